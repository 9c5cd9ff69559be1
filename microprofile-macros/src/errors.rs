//! Collects every error found, so one compile run reports them all.

pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn new() -> Errors {
        Errors(None)
    }

    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn into_compile_errors(self) -> proc_macro2::TokenStream {
        self.0.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}

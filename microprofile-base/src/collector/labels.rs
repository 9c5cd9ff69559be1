//! The label sets of the labelled families: `device` for the network families, and `device`,
//! `fstype`, `mountpoint` for the filesystem families (names in label order).
//!
//! Apart from the readers and the snapshot because they are the one place that says what a
//! series is keyed by: the readers render them once per refresh, the snapshot hands the rendered
//! text to the encoder.

use microprofile::LabelSet;

/// The label of one network interface.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct DeviceLabel(pub(super) String);

impl LabelSet for DeviceLabel {
    const NAMES: &'static [&'static str] = &["device"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

/// The labels of one filesystem, as `df` names it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct FsLabels {
    pub(super) device: String,
    pub(super) fstype: String,
    pub(super) mountpoint: String,
}

impl LabelSet for FsLabels {
    const NAMES: &'static [&'static str] = &["device", "fstype", "mountpoint"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.device);
        f(&self.fstype);
        f(&self.mountpoint);
    }
}

//! The label sets of the labelled families: `mode` for `cpu_time`, `device` for the network
//! families, and `device`, `fstype`, `mountpoint` for the filesystem families (names in label
//! order).
//!
//! Apart from the readers and the snapshot because they are the one place that says what a
//! series is keyed by: the readers make a [`Labelled`] once per refresh (the label set and its
//! rendering), the snapshot hands both to the read path (pairs for the consumers that want them,
//! the rendered text for the text encoders).

use microprofile::metric::family::render;
use microprofile::metric::SeriesLabels;
use microprofile::LabelSet;

/// A label set and its rendering, made once per refresh.
#[derive(Debug, Clone)]
pub(super) struct Labelled<L> {
    set: L,
    rendered: String,
}

impl<L: LabelSet> Labelled<L> {
    pub(super) fn new(set: L) -> Labelled<L> {
        let rendered = render(&set);
        Labelled { set, rendered }
    }

    /// The labels as the read path takes them.
    pub(super) fn series_labels(&self) -> SeriesLabels<'_> {
        SeriesLabels::of_set(&self.set, &self.rendered)
    }

    /// The rendered text, by which series are sorted.
    pub(super) fn rendered(&self) -> &str {
        &self.rendered
    }
}

/// The label of one CPU mode of `cpu_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ModeLabel(pub(super) &'static str);

impl LabelSet for ModeLabel {
    const NAMES: &'static [&'static str] = &["mode"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.0)
    }
}

/// The label of one network interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct DeviceLabel(pub(super) String);

impl LabelSet for DeviceLabel {
    const NAMES: &'static [&'static str] = &["device"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0)
    }
}

/// The labels of one filesystem, as `df` names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FamilyId;
    use microprofile::metric::family::render;

    #[test]
    fn names_are_the_families_label_names() {
        assert_eq!(FamilyId::CpuTime.labels(), ModeLabel::NAMES);
        for id in [
            FamilyId::NetworkReceiveBytes,
            FamilyId::NetworkTransmitErrors,
        ] {
            assert_eq!(id.labels(), DeviceLabel::NAMES, "{id:?}");
        }
        for id in [
            FamilyId::FilesystemSize,
            FamilyId::FilesystemUsed,
            FamilyId::FilesystemAvailable,
        ] {
            assert_eq!(id.labels(), FsLabels::NAMES, "{id:?}");
        }
    }

    #[test]
    fn rendered_in_name_order_and_escaped() {
        assert_eq!(render(&ModeLabel("idle")), "mode=\"idle\"");
        assert_eq!(render(&DeviceLabel("eth0".into())), "device=\"eth0\"");
        let fs = FsLabels {
            device: "/dev/sda1".into(),
            fstype: "ext4".into(),
            mountpoint: "/mnt/a \"b\"".into(),
        };
        assert_eq!(
            render(&fs),
            r#"device="/dev/sda1",fstype="ext4",mountpoint="/mnt/a \"b\"""#
        );
    }
}

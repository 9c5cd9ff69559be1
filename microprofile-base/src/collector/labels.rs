//! The label sets of the labelled families: `mode` for `cpu_time`, `device` for the network
//! families, and `device`, `fstype`, `mountpoint` for the filesystem families (names in label
//! order).
//!
//! Apart from the readers and the snapshot because they are the one place that says what a
//! series is keyed by: the readers render them once per refresh, the snapshot hands the rendered
//! text to the encoder.

use microprofile::LabelSet;

/// The label of one CPU mode of `cpu_time`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ModeLabel(pub(super) &'static str);

impl LabelSet for ModeLabel {
    const NAMES: &'static [&'static str] = &["mode"];
    fn for_each_value(&self, f: &mut dyn FnMut(&str)) {
        f(self.0)
    }
}

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

//! nook: an OCI container runtime.
pub mod cgroups;

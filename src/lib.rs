//! nook: an OCI container runtime.

//! What `cuddlekube-bench` and `cuddlekube-floor` share: the requests measured.

pub mod targets;

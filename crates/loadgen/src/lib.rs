//! Traffic for Cuddle Kube: [`traffic`] (the engine the benchmark uses too) and
//! [`visitors`] (people walking the site). The `cuddlekube-loadgen` binary runs the
//! visitors against a site (compose's `loadgen` service; `cargo xtask load`).

pub mod traffic;
pub mod visitors;

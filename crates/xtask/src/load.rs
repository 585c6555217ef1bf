//! `cargo xtask load [options]`: visitors walking a running site (by default the one
//! `cargo xtask dev` serves), through `cuddlekube-loadgen`; the options are its own
//! (`--target`, `--rate`, `--duration`, `--visitors`).

use anyhow::Context;

use crate::project_root;

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let sh = crate::root_shell()?;
    let cargo = env!("CARGO");
    xshell::cmd!(
        sh,
        "{cargo} build --quiet -p loadgen --bin cuddlekube-loadgen"
    )
    .run()
    .context("the load generator does not build")?;
    let loadgen = project_root().join("target/debug/cuddlekube-loadgen");
    xshell::cmd!(sh, "{loadgen} {args...}")
        .run()
        .context("the load run failed")?;
    Ok(())
}

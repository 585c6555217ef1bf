//! `cargo xtask gameday [ARGS]`: `cuddlekube-admin gameday --site http://127.0.0.1:8080
//! ARGS` on the stack `cargo xtask dev` runs, through `cargo xtask admin` (so with the
//! stack's environment, which names its Prometheus); `cargo xtask gameday answer ...`
//! likewise.

/// The site `cargo xtask dev` serves.
const SITE: &str = "http://127.0.0.1:8080";

pub fn run(mut args: Vec<String>) -> anyhow::Result<()> {
    let playing = args.first().is_none_or(|a| a != "answer");
    if playing
        && !args
            .iter()
            .any(|a| a == "--site" || a.starts_with("--site="))
    {
        args.splice(0..0, ["--site".to_owned(), SITE.to_owned()]);
    }
    args.insert(0, "gameday".to_owned());
    // Ctrl-C reaches the game too (one process group): xtask waits while the game
    // switches its fault off, rather than leaving it to finish behind the prompt.
    ctrlc::set_handler(|| {})?;
    crate::dev::admin(args)
}

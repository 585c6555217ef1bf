//! Embeds `static/` (CSS, SVG, favicon) into the binary; see `src/assets.rs`.
fn main() {
    memory_serve::load_directory("./static");
}

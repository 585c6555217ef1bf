fn main() -> std::process::ExitCode {
    api_kit::run_store_service(server_listing::INFO, server_listing::build_with_store)
}

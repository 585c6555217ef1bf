fn main() -> std::process::ExitCode {
    service_kit::run_service(server_listing::INFO, server_listing::build)
}

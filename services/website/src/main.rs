fn main() -> std::process::ExitCode {
    service_kit::run_service(website::INFO, website::build)
}

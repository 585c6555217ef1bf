fn main() -> std::process::ExitCode {
    service_kit::run_service(register::INFO, register::build)
}

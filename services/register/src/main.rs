fn main() -> std::process::ExitCode {
    api_kit::run_store_service(register::INFO, register::build_with_store)
}

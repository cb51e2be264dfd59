fn main() {
    std::process::exit(nook::cli::main());
}

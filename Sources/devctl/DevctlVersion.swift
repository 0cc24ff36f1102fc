/// The version `devctl --version` prints.
enum DevctlVersion {
    static let current = "0.1.0"
}

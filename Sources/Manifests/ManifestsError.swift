import DevctlCore

/// What `devctl manifests` refuses: bad input (exit 2) or a failure (exit 1).
public typealias ManifestsError = CommandError

import DevctlCore

/// What `devctl new` refuses: bad input (exit 2) or a template/repository problem (exit 1).
public typealias ScaffoldError = CommandError

import YAMLSupport

/// `devctl.yaml` could not be read, parsed or validated; lists every problem found.
public typealias StackConfigError = ConfigFileError

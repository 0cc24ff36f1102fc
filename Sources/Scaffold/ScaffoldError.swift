import DevctlCore

/// What `devctl new` refuses, with the exit code it deserves.
public enum ScaffoldError: UserFacingError, Equatable {
    /// Bad input on the command line (exit 2).
    case usage(String, hint: String? = nil)
    /// A template or repository problem (exit 1).
    case failure(String, hint: String? = nil)

    public var message: String {
        switch self {
        case .usage(let message, _), .failure(let message, _): return message
        }
    }

    public var hint: String? {
        switch self {
        case .usage(_, let hint), .failure(_, let hint): return hint
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: return 2
        case .failure: return 1
        }
    }
}

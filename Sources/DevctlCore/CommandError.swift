/// A refusal with its exit code: bad input (`usage`, exit 2) or a failure (exit 1). Libraries
/// whose errors are only these two kinds throw it (under their own name, e.g. `ScaffoldError`).
public enum CommandError: UserFacingError, Equatable {
    /// Bad input on the command line or in a file the user wrote (exit 2).
    case usage(String, hint: String? = nil)
    /// Something that went wrong while doing the work (exit 1).
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

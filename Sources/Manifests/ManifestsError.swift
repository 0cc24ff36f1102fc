import DevctlCore

/// What `devctl manifests` refuses: bad input (exit 2) or a failure (exit 1).
public enum ManifestsError: UserFacingError {
    case usage(String, hint: String? = nil)
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

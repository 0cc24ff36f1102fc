/// An error a user can hit and act on: what happened, where, and what to do about it.
///
/// Libraries throw these; the `devctl` executable prints `message` and `hint` and exits with
/// ``exitCode``. Anything else that escapes is a bug and is reported as such.
public protocol UserFacingError: Error, CustomStringConvertible {
    /// What happened and where (file:line, service, port), in one or a few lines.
    var message: String { get }
    /// What the user can do about it, or `nil` when the message says it all.
    var hint: String? { get }
    /// Process exit status: 1 for a failure, 2 for bad usage or bad input.
    var exitCode: Int32 { get }
}

extension UserFacingError {
    public var hint: String? { nil }
    public var exitCode: Int32 { 1 }
    public var description: String {
        if let hint { return "\(message)\nhint: \(hint)" }
        return message
    }
}

/// A plain user-facing failure for the cases that need no type of their own.
public struct DevctlFailure: UserFacingError, Equatable {
    public let message: String
    public let hint: String?
    public let exitCode: Int32

    public init(_ message: String, hint: String? = nil, exitCode: Int32 = 1) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }
}

import NIOConcurrencyHelpers
import SwiftProtobuf

/// Where a streaming handler sends its response messages, one at a time (like connect-go's
/// `ServerStream.Send`, it is not for concurrent use: await each send). A send after the call
/// ended (deadline, cancellation, the client went away) throws ``ConnectError`` `canceled`.
public struct ServerStream<Message: SwiftProtobuf.Message>: Sendable {
    private let sendMessage: @Sendable (Message) async throws -> Void

    init(_ send: @escaping @Sendable (Message) async throws -> Void) {
        sendMessage = send
    }

    /// Sends one message to the client.
    public func send(_ message: Message) async throws {
        try await sendMessage(message)
    }
}

/// The RPC services this process serves (full names such as `greeter.v1.GreeterService`), as
/// generated `registerConnect(on:)` records them: what the health service answers for.
public enum ConnectServices {
    private static let names = NIOLockedValueBox<Set<String>>([])

    public static func register(_ fullName: String) {
        names.withLockedValue { _ = $0.insert(fullName) }
    }

    public static var registered: Set<String> { names.withLockedValue { $0 } }
}

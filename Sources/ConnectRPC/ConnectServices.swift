import Foundation
import NIOConcurrencyHelpers
import SwiftProtobuf

/// The RPC services this process serves (full names such as `greeter.v1.GreeterService`) and
/// the proto files that describe them, as generated `registerConnect(on:)` records them: what
/// the health service answers for and server reflection describes.
public enum ConnectServices {
    private struct Registry {
        var names: Set<String> = []
        /// Serialized descriptors by file name, in the order they were first registered.
        var files: [String: Data] = [:]
        /// Each file's imports.
        var imports: [String: [String]] = [:]
        /// Fully qualified symbol (service, method, message, enum, extension) → defining file.
        var symbols: [String: String] = [:]
    }

    private static let registry = NIOLockedValueBox(Registry())

    /// Records a served service and the base64 descriptors of its file and that file's imports.
    public static func register(_ fullName: String, fileDescriptors: [String] = []) {
        // Decoded outside the lock; a descriptor that does not parse is left out of reflection.
        let parsed: [(Data, Google_Protobuf_FileDescriptorProto)] = fileDescriptors.compactMap { encoded in
            guard let data = Data(base64Encoded: encoded),
                  let proto = try? Google_Protobuf_FileDescriptorProto(serializedBytes: data) else { return nil }
            return (data, proto)
        }
        registry.withLockedValue { registry in
            registry.names.insert(fullName)
            for (data, proto) in parsed where registry.files[proto.name] == nil {
                registry.files[proto.name] = data
                registry.imports[proto.name] = proto.dependency
                for symbol in symbols(of: proto) { registry.symbols[symbol] = proto.name }
            }
        }
    }

    public static var registered: Set<String> { registry.withLockedValue { $0.names } }

    /// The descriptor of `fileName` and of every file it imports, transitively (the file first),
    /// or nil when no registered service's file is or imports it.
    public static func fileDescriptors(named fileName: String) -> [Data]? {
        registry.withLockedValue { registry in
            guard registry.files[fileName] != nil else { return nil }
            var order: [String] = []
            var seen: Set<String> = []
            var pending = [fileName]
            while let next = pending.first {
                pending.removeFirst()
                guard seen.insert(next).inserted else { continue }
                order.append(next)
                pending += registry.imports[next] ?? []
            }
            return order.compactMap { registry.files[$0] }
        }
    }

    /// The descriptors (as ``fileDescriptors(named:)``) of the file defining `symbol`, a fully
    /// qualified name such as `greeter.v1.GreeterService` or `greeter.v1.GreetRequest`.
    public static func fileDescriptors(containingSymbol symbol: String) -> [Data]? {
        let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
        guard let file = registry.withLockedValue({ $0.symbols[trimmed] }) else { return nil }
        return fileDescriptors(named: file)
    }

    /// Whether `symbol` names a message type of a registered file.
    public static func knowsSymbol(_ symbol: String) -> Bool {
        registry.withLockedValue { $0.symbols[symbol] != nil }
    }

    private static func symbols(of file: Google_Protobuf_FileDescriptorProto) -> [String] {
        let prefix = file.package.isEmpty ? "" : file.package + "."
        var symbols: [String] = []
        func messages(_ types: [Google_Protobuf_DescriptorProto], in scope: String) {
            for type in types {
                let name = scope + type.name
                symbols.append(name)
                symbols += type.field.map { name + "." + $0.name }
                symbols += type.enumType.map { name + "." + $0.name }
                symbols += type.extension.map { name + "." + $0.name }
                messages(type.nestedType, in: name + ".")
            }
        }
        messages(file.messageType, in: prefix)
        symbols += file.enumType.map { prefix + $0.name }
        symbols += file.extension.map { prefix + $0.name }
        for service in file.service {
            symbols.append(prefix + service.name)
            symbols += service.method.map { prefix + service.name + "." + $0.name }
        }
        return symbols
    }
}

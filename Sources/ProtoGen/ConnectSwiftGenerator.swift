import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// The `connect-swift` protoc plugin, built into devctl: for each service, a handler protocol,
/// its registration on a Hummingbird router and a typed client (runtime: the ConnectRPC module).
///
/// Runs in-process when buf.gen.yaml names `protoc-gen-connect-swift`, and as a plain protoc
/// plugin (`devctl protoc-plugin connect-swift`, or devctl invoked as `protoc-gen-connect-swift`)
/// so that real `buf generate` and `protoc` produce the same files.
public enum ConnectSwiftGenerator {
    /// The plugin name buf.gen.yaml uses for the in-process generator.
    public static let pluginName = "protoc-gen-connect-swift"

    /// Whether a `local:` argv names this built-in generator.
    /// The built-in generator by name, as `devctl protoc-plugin connect-swift`, or through a
    /// launcher named after it (buf.gen.yaml's `scripts/plugins/protoc-gen-connect-swift`).
    public static func isBuiltIn(_ argv: [String]) -> Bool {
        guard let program = argv.first else { return false }
        return (argv.count == 1 && (program as NSString).lastPathComponent == pluginName) || argv == ["devctl", "protoc-plugin", "connect-swift"]
    }

    /// Options: `Visibility=Public|Internal|Package`, `FileNaming=FullPath|PathToUnderscores|DropPath`.
    struct Options {
        var visibility = "internal"
        var fileNaming = "FullPath"

        init(parameter: String) throws {
            for pair in parameter.split(separator: ",") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { throw GeneratorError("option \"\(pair)\" is not KEY=VALUE") }
                switch parts[0] {
                case "Visibility":
                    guard ["Public", "Internal", "Package"].contains(parts[1]) else { throw GeneratorError("Visibility must be Public, Internal or Package, got \(parts[1])") }
                    visibility = parts[1].lowercased()
                case "FileNaming":
                    guard ["FullPath", "PathToUnderscores", "DropPath"].contains(parts[1]) else { throw GeneratorError("FileNaming must be FullPath, PathToUnderscores or DropPath, got \(parts[1])") }
                    fileNaming = parts[1]
                default:
                    throw GeneratorError("unknown option \"\(parts[0])\" (known: Visibility, FileNaming)")
                }
            }
        }
    }

    /// Answers one plugin request; problems go into the response's `error`, as protoc expects.
    public static func respond(to request: Google_Protobuf_Compiler_CodeGeneratorRequest) -> Google_Protobuf_Compiler_CodeGeneratorResponse {
        var response = Google_Protobuf_Compiler_CodeGeneratorResponse()
        response.supportedFeatures = UInt64(Google_Protobuf_Compiler_CodeGeneratorResponse.Feature.proto3Optional.rawValue)
        do {
            let options = try Options(parameter: request.parameter)
            let descriptors = DescriptorSet(protos: request.protoFile)
            let protos = Dictionary(request.protoFile.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for name in request.fileToGenerate {
                guard let file = descriptors.fileDescriptor(named: name), !file.services.isEmpty else { continue }
                var generated = Google_Protobuf_Compiler_CodeGeneratorResponse.File()
                generated.name = outputName(for: name, naming: options.fileNaming)
                generated.content = try source(for: file, options: options, reflection: try reflectionDescriptors(of: name, in: protos))
                response.file.append(generated)
            }
        } catch {
            response.error = "\(error)"
        }
        return response
    }

    /// Runs as a protoc plugin over serialized bytes (stdin → stdout).
    public static func respond(toSerialized input: Data) throws -> Data {
        let request = try Google_Protobuf_Compiler_CodeGeneratorRequest(serializedBytes: input)
        return try respond(to: request).serializedData()
    }

    static func outputName(for protoFile: String, naming: String) -> String {
        let base = protoFile.hasSuffix(".proto") ? String(protoFile.dropLast(6)) : protoFile
        switch naming {
        case "PathToUnderscores": return base.replacingOccurrences(of: "/", with: "_") + ".connect.swift"
        case "DropPath": return (base as NSString).lastPathComponent + ".connect.swift"
        default: return base + ".connect.swift"
        }
    }

    /// The file's descriptor and those of every file it imports, transitively, serialized
    /// without source info and base64-encoded: what server reflection hands to grpcurl.
    static func reflectionDescriptors(of name: String, in protos: [String: Google_Protobuf_FileDescriptorProto]) throws -> [String] {
        var order: [String] = []
        var seen: Set<String> = []
        func visit(_ name: String) throws {
            guard seen.insert(name).inserted else { return }
            guard let proto = protos[name] else { throw GeneratorError("\(name) is imported but its descriptor was not in the request") }
            for dependency in proto.dependency { try visit(dependency) }
            order.append(name)
        }
        try visit(name)
        return try order.compactMap { protos[$0] }.map { proto in
            var stripped = proto
            stripped.clearSourceCodeInfo()
            return try stripped.serializedData().base64EncodedString()
        }
    }

    static func source(for file: FileDescriptor, options: Options, reflection: [String]) throws -> String {
        let namer = SwiftProtobufNamer(currentFile: file, protoFileToModuleMappings: ProtoFileToModuleMappings())
        let access = options.visibility
        var out = """
            // DO NOT EDIT.
            // swift-format-ignore-file
            // swiftlint:disable all
            //
            // Generated by devctl's connect-swift plugin from \(file.name).
            // Connect, gRPC and gRPC-Web handlers (Hummingbird) and Connect clients over the ConnectRPC runtime.

            import ConnectRPC
            import Hummingbird

            """
        out += "\n/// \(file.name) and the files it imports (serialized descriptors, base64) for server reflection.\n"
        out += "private let connectFileDescriptors: [String] = [\n"
        for descriptor in reflection { out += "    \"\(descriptor)\",\n" }
        out += "]\n"
        for service in file.services {
            let prefix = namer.typePrefix(forFile: file) + service.name
            let procedures = service.methods.map { "/\(service.fullName)/\($0.name)" }
            let names = service.methods.map { swiftMethodName($0.name) }

            out += "\n" + service.protoSourceComments()
            out += "\(access) protocol \(prefix)Handler: Sendable {\n"
            for (method, name) in zip(service.methods, names) {
                out += indent(method.protoSourceComments(), by: 4)
                let (input, output) = (namer.fullName(message: method.inputType), namer.fullName(message: method.outputType))
                switch (method.clientStreaming, method.serverStreaming) {
                case (false, false):
                    out += "    func \(name)(_ request: \(input), context: ConnectContext) async throws -> \(output)\n"
                case (false, true):
                    out += "    func \(name)(_ request: \(input), context: ConnectContext, stream: ServerStream<\(output)>) async throws\n"
                case (true, false):
                    out += "    func \(name)(_ requests: RequestStream<\(input)>, context: ConnectContext) async throws -> \(output)\n"
                case (true, true):
                    out += "    func \(name)(_ requests: RequestStream<\(input)>, context: ConnectContext, stream: ServerStream<\(output)>) async throws\n"
                }
            }
            out += "}\n\n"

            out += "extension \(prefix)Handler {\n"
            out += "    /// Serves every method of \(service.fullName) on `router`.\n"
            out += "    \(access) func registerConnect<Router: RouterMethods>(on router: Router, options: ConnectServerOptions = ConnectServerOptions()) {\n"
            out += "        ConnectServices.register(\"\(service.fullName)\", fileDescriptors: connectFileDescriptors)\n"
            for (index, method) in service.methods.enumerated() where method.clientStreaming || method.serverStreaming {
                let types = "input: \(namer.fullName(message: method.inputType)).self, output: \(namer.fullName(message: method.outputType)).self, options: options"
                switch (method.clientStreaming, method.serverStreaming) {
                case (false, _):
                    out += "        router.connectServerStream(\(prefix)Procedures.\(names[index]), \(types)) { request, context, stream in\n"
                    out += "            try await self.\(names[index])(request, context: context, stream: stream)\n"
                case (true, false):
                    out += "        router.connectClientStream(\(prefix)Procedures.\(names[index]), \(types)) { requests, context in\n"
                    out += "            try await self.\(names[index])(requests, context: context)\n"
                case (true, true):
                    out += "        router.connectBidiStream(\(prefix)Procedures.\(names[index]), \(types)) { requests, context, stream in\n"
                    out += "            try await self.\(names[index])(requests, context: context, stream: stream)\n"
                }
                out += "        }\n"
            }
            for (index, method) in service.methods.enumerated() where !method.clientStreaming && !method.serverStreaming {
                let allowGET = method.options.idempotencyLevel == .noSideEffects
                out += "        router.connectUnary(\(prefix)Procedures.\(names[index]), input: \(namer.fullName(message: method.inputType)).self, allowGET: \(allowGET), options: options) { request, context in\n"
                out += "            try await self.\(names[index])(request, context: context)\n"
                out += "        }\n"
            }
            out += "    }\n}\n\n"

            out += "/// Procedure paths of \(service.fullName).\n"
            out += "\(access) enum \(prefix)Procedures {\n"
            for (procedure, name) in zip(procedures, names) {
                out += "    \(access) static let \(name) = \"\(procedure)\"\n"
            }
            out += "}\n\n"

            out += "/// A typed client for \(service.fullName).\n"
            out += "\(access) struct \(prefix)Client: Sendable {\n"
            out += "    \(access) let client: ConnectClient\n\n"
            out += "    \(access) init(client: ConnectClient) {\n        self.client = client\n    }\n"
            for (method, name) in zip(service.methods, names) {
                let (input, output) = (namer.fullName(message: method.inputType), namer.fullName(message: method.outputType))
                out += "\n" + indent(method.protoSourceComments(), by: 4)
                switch (method.clientStreaming, method.serverStreaming) {
                case (false, false):
                    out += "    \(access) func \(name)(_ request: \(input), headers: ConnectHeaders? = nil, timeout: Duration? = nil) async throws -> \(output) {\n"
                    out += "        try await client.unary(\(prefix)Procedures.\(name), request, as: \(output).self, headers: headers, timeout: timeout).message\n"
                case (false, true):
                    out += "    \(access) func \(name)(_ request: \(input), headers: ConnectHeaders? = nil, timeout: Duration? = nil) -> AsyncThrowingStream<\(output), any Error> {\n"
                    out += "        client.serverStream(\(prefix)Procedures.\(name), request, as: \(output).self, headers: headers, timeout: timeout)\n"
                case (true, false):
                    out += "    \(access) func \(name)<Requests: AsyncSequence & Sendable>(_ requests: Requests, headers: ConnectHeaders? = nil, timeout: Duration? = nil) async throws -> \(output) where Requests.Element == \(input) {\n"
                    out += "        try await client.clientStream(\(prefix)Procedures.\(name), requests, as: \(output).self, headers: headers, timeout: timeout)\n"
                case (true, true):
                    // Bidirectional: gRPC over h2c only (a client whose wire is `.grpc`).
                    out += "    \(access) func \(name)<Requests: AsyncSequence & Sendable>(_ requests: Requests, headers: ConnectHeaders? = nil, timeout: Duration? = nil) -> AsyncThrowingStream<\(output), any Error> where Requests.Element == \(input) {\n"
                    out += "        client.bidiStream(\(prefix)Procedures.\(name), requests, as: \(output).self, headers: headers, timeout: timeout)\n"
                }
                out += "    }\n"
            }
            out += "}\n"
        }
        return out
    }

    private static let swiftKeywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "func", "import", "init", "inout", "let", "operator",
        "protocol", "static", "struct", "subscript", "typealias", "var", "break", "case", "continue", "default", "defer",
        "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "switch", "where", "while", "as",
        "catch", "false", "is", "nil", "rethrows", "super", "self", "throw", "throws", "true", "try",
    ]

    /// `CallExternal` → `callExternal`, `GetURL` → `getURL`, keywords in backticks.
    static func swiftMethodName(_ name: String) -> String {
        let characters = Array(name)
        var leadingUpper = 0
        while leadingUpper < characters.count, characters[leadingUpper].isUppercase { leadingUpper += 1 }
        // Lower-case the leading capitals, but leave the one that starts the next word.
        let lowered = leadingUpper > 1 && leadingUpper < characters.count ? leadingUpper - 1 : max(leadingUpper, 1)
        let result = String(characters.prefix(lowered)).lowercased() + String(characters.dropFirst(lowered))
        return swiftKeywords.contains(result) ? "`\(result)`" : result
    }

    private static func indent(_ text: String, by spaces: Int) -> String {
        let padding = String(repeating: " ", count: spaces)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : padding + $0 }.joined(separator: "\n")
    }
}

/// A generator's refusal, reported in the plugin response's `error` (what protoc shows).
struct GeneratorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

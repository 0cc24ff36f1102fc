import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// The `connect-ts` protoc plugin, built into devctl: TypeScript for the web frontend, with no
/// runtime package to install. Per proto file `X.proto`: `X_pb.ts` (message interfaces and their
/// proto3 JSON codecs: int64 as string, enums by name, unknown fields ignored, defaults omitted),
/// `X_connect.ts` (a typed Connect client per service: unary and server streaming over `fetch`)
/// and per service `X-Service_connectquery.ts` (React hooks: `useGreet()` with `mutateAsync`,
/// a streaming hook per server-streaming method). The shared runtime (`connect_runtime.ts`,
/// `connect_react.ts`) is written once per request at the output root, so buf.gen.yaml gives
/// this plugin `strategy: all`.
///
/// Client- and bidirectional-streaming methods get no client method: `fetch` cannot stream a
/// request body in browsers. Well-known types (`google.protobuf.*`) are passed through as JSON.
public enum ConnectTSGenerator {
    public static let pluginName = "protoc-gen-connect-ts"

    /// Whether a `local:` argv names this built-in generator (the launcher, or devctl itself).
    public static func isBuiltIn(_ argv: [String]) -> Bool {
        guard let program = argv.first else { return false }
        return (argv.count == 1 && (program as NSString).lastPathComponent == pluginName) || argv == ["devctl", "protoc-plugin", "connect-ts"]
    }

    /// Answers one plugin request; problems go into the response's `error`, as protoc expects.
    public static func respond(to request: Google_Protobuf_Compiler_CodeGeneratorRequest) -> Google_Protobuf_Compiler_CodeGeneratorResponse {
        var response = Google_Protobuf_Compiler_CodeGeneratorResponse()
        response.supportedFeatures = UInt64(Google_Protobuf_Compiler_CodeGeneratorResponse.Feature.proto3Optional.rawValue)
        do {
            guard request.parameter.isEmpty else { throw GeneratorError("connect-ts takes no options, got \"\(request.parameter)\"") }
            let descriptors = DescriptorSet(protos: request.protoFile)
            var anyService = false
            for name in request.fileToGenerate {
                guard let file = descriptors.fileDescriptor(named: name) else { continue }
                let base = name.hasSuffix(".proto") ? String(name.dropLast(6)) : name
                if !file.messages.isEmpty || !file.enums.isEmpty {
                    response.file.append(output(base + "_pb.ts", messagesSource(file, base: base)))
                }
                if !file.services.isEmpty {
                    anyService = true
                    response.file.append(output(base + "_connect.ts", clientSource(file, base: base)))
                    for service in file.services {
                        let hooks = (base as NSString).deletingLastPathComponent
                        let fileName = ((base as NSString).lastPathComponent) + "-\(service.name)_connectquery.ts"
                        response.file.append(output(hooks.isEmpty ? fileName : hooks + "/" + fileName, hooksSource(service, file: file, base: base)))
                    }
                }
            }
            if !request.fileToGenerate.isEmpty {
                response.file.append(output(ConnectTSRuntime.runtimeFile, ConnectTSRuntime.runtime))
                if anyService { response.file.append(output(ConnectTSRuntime.reactFile, ConnectTSRuntime.react)) }
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

    private static func output(_ name: String, _ content: String) -> Google_Protobuf_Compiler_CodeGeneratorResponse.File {
        var file = Google_Protobuf_Compiler_CodeGeneratorResponse.File()
        file.name = name
        file.content = content
        return file
    }

    // MARK: Names and paths

    /// `Outer_Inner` for a nested type (as connect-es names them).
    static func typeName(_ descriptor: Descriptor) -> String {
        qualified(descriptor.name, in: descriptor.containingType)
    }

    static func typeName(_ descriptor: EnumDescriptor) -> String {
        qualified(descriptor.name, in: descriptor.containingType)
    }

    private static func qualified(_ name: String, in container: Descriptor?) -> String {
        guard let container else { return name }
        return typeName(container) + "_" + name
    }

    /// `lowerCamelCase` of a proto name (`external_status` → `externalStatus`).
    static func camel(_ name: String) -> String {
        var result = ""
        var upper = false
        for character in name {
            if character == "_" {
                upper = !result.isEmpty
                continue
            }
            result += upper ? character.uppercased() : String(character)
            upper = false
        }
        return result
    }

    static func methodName(_ name: String) -> String {
        guard let first = name.first else { return name }
        return first.lowercased() + name.dropFirst()
    }

    /// An import path from the file at `from` (no extension) to `to` (no extension), `./`-rooted.
    static func relative(from: String, to: String) -> String {
        let fromParts = from.split(separator: "/").dropLast()
        let toParts = to.split(separator: "/")
        var common = 0
        while common < fromParts.count, common < toParts.count - 1, fromParts[fromParts.startIndex + common] == toParts[common] { common += 1 }
        let ups = Array(repeating: "..", count: fromParts.count - common)
        let path = (ups + toParts[common...].map(String.init)).joined(separator: "/")
        return path.hasPrefix("..") ? path : "./" + path
    }

    static func isWellKnown(_ file: FileDescriptor) -> Bool { file.name.hasPrefix("google/protobuf/") }

    /// JSDoc from a proto element's comments.
    static func doc(_ comments: String, indent: String = "") -> String {
        let lines = comments.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var text = String(line)
            if text.hasPrefix("//") { text = String(text.dropFirst(2)) }
            if text.hasPrefix(" ") { text = String(text.dropFirst()) }
            return text.replacingOccurrences(of: "*/", with: "* /")
        }
        let kept = lines.reversed().drop { $0.isEmpty }.reversed()
        guard !kept.isEmpty else { return "" }
        return indent + "/**\n" + kept.map { indent + " * " + $0 }.joined(separator: "\n").replacingOccurrences(of: " * \n", with: " *\n") + "\n" + indent + " */\n"
    }

    // MARK: Fields

    /// How one field reads, writes and defaults, in TypeScript.
    struct FieldCode {
        var tsType: String
        var defaultValue: String?
        /// `v` read from JSON (a `JsonValue`, not null).
        var read: (String) -> String
        /// JSON from `v`.
        var write: (String) -> String
        /// Whether `v` is the default (omitted from JSON).
        var isDefault: (String) -> String
    }

    /// A single value of `field`'s type (not the list or map around it).
    static func valueCode(_ field: FieldDescriptor, typeName owner: String, imports: inout Imports) -> FieldCode {
        let name = field.name
        let context = "\"\(owner)\", \"\(name)\""
        switch field.type {
        case .double, .float:
            imports.runtime.formUnion(["readDouble", "writeDouble"])
            return FieldCode(tsType: "number", defaultValue: "0", read: { "readDouble(\($0), \(context))" }, write: { "writeDouble(\($0))" }, isDefault: { "\($0) === 0" })
        case .int32, .sint32, .sfixed32:
            imports.runtime.insert("readInt32")
            return FieldCode(tsType: "number", defaultValue: "0", read: { "readInt32(\($0), \(context))" }, write: { $0 }, isDefault: { "\($0) === 0" })
        case .uint32, .fixed32:
            imports.runtime.insert("readInt32")
            return FieldCode(tsType: "number", defaultValue: "0", read: { "readInt32(\($0), \(context), true)" }, write: { $0 }, isDefault: { "\($0) === 0" })
        case .int64, .uint64, .sint64, .fixed64, .sfixed64:
            imports.runtime.insert("readInt64")
            return FieldCode(tsType: "string", defaultValue: "\"0\"", read: { "readInt64(\($0), \(context))" }, write: { $0 }, isDefault: { "\($0) === \"0\"" })
        case .bool:
            imports.runtime.insert("readBool")
            return FieldCode(tsType: "boolean", defaultValue: "false", read: { "readBool(\($0), \(context))" }, write: { $0 }, isDefault: { "\($0) === false" })
        case .string:
            imports.runtime.insert("readString")
            return FieldCode(tsType: "string", defaultValue: "\"\"", read: { "readString(\($0), \(context))" }, write: { $0 }, isDefault: { "\($0) === \"\"" })
        case .bytes:
            imports.runtime.formUnion(["readBytes", "writeBytes"])
            return FieldCode(tsType: "Uint8Array", defaultValue: "new Uint8Array(0)", read: { "readBytes(\($0), \(context))" }, write: { "writeBytes(\($0))" }, isDefault: { "\($0).length === 0" })
        case .enum:
            let enumType = field.enumType!
            let tsName = imports.use(enumType.file, typeName(enumType))
            imports.runtime.insert("readEnum")
            let zero: String = (enumType.values.first(where: { $0.number == 0 }) ?? enumType.values.first)?.name ?? ""
            return FieldCode(tsType: tsName, defaultValue: "\"\(zero)\"", read: { "readEnum(\($0), \(tsName).names, \(tsName).numbers, \(context))" }, write: { $0 }, isDefault: { "\($0) === \"\(zero)\"" })
        case .message, .group:
            let messageType = field.messageType!
            if isWellKnown(messageType.file) {
                // google.protobuf.* have JSON forms of their own (Timestamp as a string, Struct as
                // an object …): passed through unchanged.
                imports.runtime.insert("JsonValue")
                return FieldCode(tsType: "JsonValue", defaultValue: nil, read: { $0 }, write: { $0 }, isDefault: { "\($0) === undefined" })
            }
            let tsName = imports.use(messageType.file, typeName(messageType))
            return FieldCode(tsType: tsName, defaultValue: nil, read: { "\(tsName).fromJson(\($0))" }, write: { "\(tsName).toJson(\($0))" }, isDefault: { "\($0) === undefined" })
        }
    }

    /// The names a generated file imports: from the runtime, and types from other `_pb` files.
    struct Imports {
        let base: String
        var runtime: Set<String> = []
        var types: [String: Set<String>] = [:]

        init(base: String) {
            self.base = base
        }

        /// `name`, declared in `file`: imported unless it is this file's own.
        mutating func use(_ file: FileDescriptor, _ name: String) -> String {
            let other = file.name.hasSuffix(".proto") ? String(file.name.dropLast(6)) : file.name
            if other != base { types[other + "_pb", default: []].insert(name) }
            return name
        }

        func render(into path: String, runtimeTypeOnly: Set<String> = ["JsonValue", "JsonObject", "MessageType", "CallOptions"]) -> String {
            var out = ""
            if !runtime.isEmpty {
                let names = runtime.sorted().map { runtimeTypeOnly.contains($0) ? "type \($0)" : $0 }
                out += "import { \(names.joined(separator: ", ")) } from \"\(ConnectTSGenerator.relative(from: path, to: "connect_runtime"))\";\n"
            }
            for (file, names) in types.sorted(by: { $0.key < $1.key }) {
                out += "import { \(names.sorted().joined(separator: ", ")) } from \"\(ConnectTSGenerator.relative(from: path, to: file))\";\n"
            }
            return out
        }
    }

    // MARK: Messages

    static func messagesSource(_ file: FileDescriptor, base: String) -> String {
        var imports = Imports(base: base)
        imports.runtime.formUnion(["JsonValue", "JsonObject", "MessageType", "objectOf", "field"])
        var body = ""
        func visit(enums: [EnumDescriptor], messages: [Descriptor]) {
            for enumType in enums { body += enumSource(enumType) }
            for message in messages where !message.isMapEntry {
                body += messageSource(message, imports: &imports)
                visit(enums: message.enums, messages: message.messages)
            }
        }
        visit(enums: file.enums, messages: file.messages)
        return header(file) + imports.render(into: base + "_pb") + body
    }

    static func header(_ file: FileDescriptor) -> String {
        "// DO NOT EDIT. Generated by devctl's connect-ts plugin from \(file.name).\n/* eslint-disable */\n\n"
    }

    static func enumSource(_ enumType: EnumDescriptor) -> String {
        let name = typeName(enumType)
        let names = enumType.values.map { "\"\($0.name)\"" }
        var out = "\n" + doc(enumType.protoSourceComments(commentPrefix: "//"))
        out += "export type \(name) = \(names.joined(separator: " | "));\n"
        out += "/** \(enumType.fullName): value names (as proto3 JSON writes them) and their numbers. */\n"
        out += "export const \(name) = {\n"
        out += "  names: [\(names.joined(separator: ", "))] as const,\n"
        out += "  numbers: [\(enumType.values.map { String($0.number) }.joined(separator: ", "))] as const,\n"
        out += "};\n"
        return out
    }

    static func messageSource(_ message: Descriptor, imports: inout Imports) -> String {
        let name = typeName(message)
        let full = message.fullName
        struct Field {
            var descriptor: FieldDescriptor
            var property: String
            var optional: Bool
            var tsType: String
            var defaultValue: String?
            var read: (String) -> String
            var write: (String) -> String
            var isDefault: (String) -> String
        }
        var fields: [Field] = []
        for field in message.fields {
            let property = camel(field.name)
            if field.isMap {
                let entry = field.messageType!
                let value = valueCode(entry.fields[1], typeName: full, imports: &imports)
                imports.runtime.formUnion(["readMap", "isEmptyMap"])
                fields.append(Field(descriptor: field, property: property, optional: false, tsType: "{ [key: string]: \(value.tsType) }", defaultValue: "{}",
                                    read: { "readMap(\($0), \"\(full)\", \"\(field.name)\", (e) => \(value.read("e")))" },
                                    write: { "Object.fromEntries(Object.entries(\($0)).map(([k, e]) => [k, \(value.write("e"))]))" },
                                    isDefault: { "isEmptyMap(\($0))" }))
            } else if field.isRepeated {
                let value = valueCode(field, typeName: full, imports: &imports)
                imports.runtime.insert("readList")
                fields.append(Field(descriptor: field, property: property, optional: false, tsType: "\(value.tsType)[]", defaultValue: "[]",
                                    read: { "readList(\($0), \"\(full)\", \"\(field.name)\", (e) => \(value.read("e")))" },
                                    write: { value.write("e") == "e" ? $0 : "\($0).map((e) => \(value.write("e")))" },
                                    isDefault: { "\($0).length === 0" }))
            } else {
                let value = valueCode(field, typeName: full, imports: &imports)
                // Messages, `optional` scalars and oneof members have presence: absent is undefined.
                let optional = field.hasPresence || value.defaultValue == nil
                fields.append(Field(descriptor: field, property: property, optional: optional, tsType: value.tsType,
                                    defaultValue: optional ? nil : value.defaultValue, read: value.read, write: value.write,
                                    isDefault: optional ? { "\($0) === undefined" } : value.isDefault))
            }
        }
        var out = "\n" + doc(message.protoSourceComments(commentPrefix: "//"))
        out += "export interface \(name) {\n"
        for field in fields {
            out += doc(field.descriptor.protoSourceComments(commentPrefix: "//"), indent: "  ")
            out += "  \(field.property)\(field.optional ? "?" : ""): \(field.tsType);\n"
        }
        out += "}\n\n"
        out += "export const \(name): MessageType<\(name)> = {\n"
        out += "  typeName: \"\(full)\",\n"
        let defaults = fields.compactMap { field in field.defaultValue.map { "\(field.property): \($0)" } }
        out += "  create(init?: Partial<\(name)>): \(name) {\n"
        out += "    return { \(defaults.isEmpty ? "" : defaults.joined(separator: ", ") + ", ")...init };\n"
        out += "  },\n"
        out += "  fromJson(json: JsonValue): \(name) {\n"
        if fields.isEmpty {
            out += "    objectOf(json, \"\(full)\");\n"
            out += "    return \(name).create();\n"
        } else {
            out += "    const object = objectOf(json, \"\(full)\");\n"
            out += "    const message = \(name).create();\n"
            out += "    let value: JsonValue | undefined;\n"
            for field in fields {
                let jsonName = field.descriptor.jsonName ?? field.property
                out += "    value = field(object, \"\(jsonName)\", \"\(field.descriptor.name)\");\n"
                out += "    if (value !== undefined && value !== null) message.\(field.property) = \(field.read("value"));\n"
            }
            out += "    return message;\n"
        }
        out += "  },\n"
        out += "  toJson(message: \(name)): JsonObject {\n"
        out += "    const json: JsonObject = {};\n"
        for field in fields {
            let jsonName = field.descriptor.jsonName ?? field.property
            let value = "message.\(field.property)"
            out += "    if (\(value) !== undefined && !(\(field.isDefault(value)))) json[\"\(jsonName)\"] = \(field.write(value));\n"
        }
        out += "    return json;\n"
        out += "  },\n"
        out += "};\n"
        return out
    }

    // MARK: Clients

    static func clientSource(_ file: FileDescriptor, base: String) -> String {
        var imports = Imports(base: base + "_connect")
        imports.runtime.formUnion(["ConnectTransport", "CallOptions"])
        var body = ""
        for service in file.services {
            body += "\n" + doc(service.protoSourceComments(commentPrefix: "//"))
            body += "export class \(service.name)Client {\n"
            body += "  static readonly typeName = \"\(service.fullName)\";\n"
            body += "  private readonly transport: ConnectTransport;\n\n"
            body += "  constructor(transport: ConnectTransport) {\n    this.transport = transport;\n  }\n"
            for method in service.methods {
                let input = imports.use(method.inputType.file, typeName(method.inputType))
                let output = imports.use(method.outputType.file, typeName(method.outputType))
                let comments = doc(method.protoSourceComments(commentPrefix: "//"), indent: "  ")
                let arguments = "\"\(service.fullName)\", \"\(method.name)\", \(input).create(request), \(input), \(output), options"
                switch (method.clientStreaming, method.serverStreaming) {
                case (false, false):
                    body += "\n" + comments
                    body += "  \(methodName(method.name))(request: Partial<\(input)> = {}, options?: CallOptions): Promise<\(output)> {\n"
                    body += "    return this.transport.unary(\(arguments));\n  }\n"
                case (false, true):
                    body += "\n" + comments
                    body += "  \(methodName(method.name))(request: Partial<\(input)> = {}, options?: CallOptions): AsyncGenerator<\(output), void, undefined> {\n"
                    body += "    return this.transport.serverStream(\(arguments));\n  }\n"
                default:
                    body += "\n  // \(method.name): \(method.clientStreaming && method.serverStreaming ? "bidirectional" : "client") streaming — not generated: fetch cannot stream a request body in browsers.\n"
                }
            }
            body += "}\n"
        }
        // Every message comes from a `_pb` file (this proto's own included).
        return header(file) + imports.render(into: base + "_connect") + body
    }

    // MARK: Hooks

    static func hooksSource(_ service: ServiceDescriptor, file: FileDescriptor, base: String) -> String {
        let path = ((base as NSString).deletingLastPathComponent.isEmpty ? "" : (base as NSString).deletingLastPathComponent + "/")
            + (base as NSString).lastPathComponent + "-\(service.name)_connectquery"
        var imports = Imports(base: path)
        imports.runtime.insert("CallOptions")
        var body = ""
        let client = "\(service.name)Client"
        let useClient = "use\(service.name)Client"
        body += "\n/** A \(client) on the transport of the nearest <TransportProvider>. */\n"
        body += "export function \(useClient)(): \(client) {\n"
        body += "  const transport = useTransport();\n"
        body += "  return useMemo(() => new \(client)(transport), [transport]);\n}\n"
        var reactNames: Set<String> = ["useTransport"]
        for method in service.methods where !method.clientStreaming {
            let input = imports.use(method.inputType.file, typeName(method.inputType))
            let output = imports.use(method.outputType.file, typeName(method.outputType))
            let hook = "use\(method.name)"
            let comments = method.protoSourceComments(commentPrefix: "//")
            let usage = method.serverStreaming
                ? "\(method.name) as a live list: restarts when `request` changes, stops on unmount."
                : "\(method.name) as a mutation: `const call = \(hook)(); await call.mutateAsync({ … })`."
            body += "\n" + doc((comments.isEmpty ? "" : comments + "//\n") + "// " + usage)
            if method.serverStreaming {
                reactNames.formUnion(["useServerStream", "StreamState", "StreamOptions"])
                body += "export function \(hook)(request: Partial<\(input)> = {}, options: StreamOptions = {}): StreamState<\(output)> {\n"
                body += "  const client = \(useClient)();\n"
                body += "  const key = JSON.stringify(\(input).toJson(\(input).create(request)));\n"
                body += "  return useServerStream((signal) => client.\(methodName(method.name))(request, { signal }), key, options);\n}\n"
            } else {
                reactNames.formUnion(["useUnaryMutation", "MutationState"])
                body += "export function \(hook)(): MutationState<\(input), \(output)> {\n"
                body += "  const client = \(useClient)();\n"
                body += "  return useUnaryMutation((input: Partial<\(input)>, options?: CallOptions) => client.\(methodName(method.name))(input, options));\n}\n"
            }
        }
        var out = header(file) + "import { useMemo } from \"react\";\n"
        let typeOnly: Set<String> = ["StreamState", "StreamOptions", "MutationState"]
        out += "import { \(reactNames.sorted().map { typeOnly.contains($0) ? "type \($0)" : $0 }.joined(separator: ", ")) } from \"\(relative(from: path, to: "connect_react"))\";\n"
        out += "import { \(client) } from \"\(relative(from: path, to: base + "_connect"))\";\n"
        return out + imports.render(into: path) + body
    }
}

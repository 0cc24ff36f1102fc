import ArgumentParser
import Foundation
import ProtoGen

/// `devctl protoc-plugin connect-swift`: the built-in generator as a plain protoc plugin
/// (CodeGeneratorRequest on stdin, CodeGeneratorResponse on stdout), for `buf generate`/`protoc`.
struct ProtocPluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protoc-plugin",
        abstract: "Run a built-in generator as a protoc plugin (stdin → stdout).",
        discussion: "Also available as `protoc-gen-connect-swift` (a symlink to devctl) for buf's `local:`."
    )

    @Argument(help: "The generator: connect-swift.")
    var name: String

    func validate() throws {
        guard name == "connect-swift" else { throw ValidationError("unknown generator \"\(name)\"; known: connect-swift") }
    }

    func run() throws {
        try Self.serve()
    }

    /// Reads a request from stdin and writes the response to stdout.
    static func serve() throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let output = try ConnectSwiftGenerator.respond(toSerialized: input)
        FileHandle.standardOutput.write(output)
    }
}

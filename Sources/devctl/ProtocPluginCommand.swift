import ArgumentParser
import Foundation
import ProtoGen

/// `devctl protoc-plugin connect-swift|connect-ts`: a built-in generator as a plain protoc plugin
/// (CodeGeneratorRequest on stdin, CodeGeneratorResponse on stdout), for `buf generate`/`protoc`.
struct ProtocPluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protoc-plugin",
        abstract: "Run a built-in generator as a protoc plugin (stdin → stdout).",
        discussion: "Also available as `protoc-gen-connect-swift` / `protoc-gen-connect-ts` (a symlink to devctl) for buf's `local:`."
    )

    @Argument(help: "The generator: connect-swift or connect-ts.")
    var name: String

    func validate() throws {
        guard ["connect-swift", "connect-ts"].contains(name) else { throw ValidationError("unknown generator \"\(name)\"; known: connect-swift, connect-ts") }
    }

    func run() throws {
        try Self.serve(name)
    }

    /// Reads a request from stdin and writes the response to stdout.
    static func serve(_ name: String = "connect-swift") throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let output = name == "connect-ts" ? try ConnectTSGenerator.respond(toSerialized: input) : try ConnectSwiftGenerator.respond(toSerialized: input)
        FileHandle.standardOutput.write(output)
    }
}

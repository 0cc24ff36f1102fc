import ArgumentParser
import DevctlCore
import Foundation
import Logging
import ProtoGen
import Services

// ArgumentParser's own `main()` exits 64 on bad usage; devctl promises 0 / 1 / 2, and prints
// user-facing errors (with their hint) the same way, in JSON too when --json is given.
// Invoked through a `protoc-gen-connect-swift` (or `-ts`) symlink, devctl is that protoc plugin.
let invokedAs = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }
if invokedAs == ConnectSwiftGenerator.pluginName || invokedAs == ConnectTSGenerator.pluginName {
    do {
        try ProtocPluginCommand.serve(invokedAs == ConnectTSGenerator.pluginName ? "connect-ts" : "connect-swift")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("\(invokedAs ?? "protoc-gen-connect"): \(error)\n".utf8))
        exit(1)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
// A service process runs its tasks on its NIO event loops (no thread switch per I/O call). It
// must happen before the first `await`, so here, not in `ServeCommand.run()`.
if arguments.first == "serve" {
    ServicePlatform.runConcurrencyOnEventLoops()
}
let wantsJSON = arguments.contains("--json")
Console.bootstrapLogging(verbose: arguments.contains("--verbose") || arguments.contains("-v"))

do {
    try await runCommand(Devctl.parseAsRoot(arguments))
    exit(0)
} catch let error as any UserFacingError {
    Console.report(error, json: wantsJSON)
    exit(error.exitCode)
} catch {
    let code = Devctl.exitCode(for: error)
    if code == .success {
        // --help, --version, completions: ArgumentParser's text on stdout.
        print(Devctl.fullMessage(for: error))
        exit(0)
    }
    if error is ExitCode {
        exit(code.rawValue)
    }
    var message = Devctl.fullMessage(for: error)
    if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
    if code == .validationFailure {
        Console.report(DevctlFailure(message, exitCode: 2), json: wantsJSON)
        exit(2)
    }
    Console.report(DevctlFailure("internal error: \(message)", hint: "this is a bug in devctl; please report it"), json: wantsJSON)
    exit(1)
}

/// Runs a parsed command; async commands through their async `run()`, which a plain call on the
/// existential would not pick (it would resolve to the synchronous one, which prints help).
func runCommand(_ command: any ParsableCommand) async throws {
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        var command = command
        try command.run()
    }
}

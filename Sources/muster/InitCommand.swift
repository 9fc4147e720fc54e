import ArgumentParser
import Foundation

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a commented example workflow to start from.")

    @Argument(help: "Where to write it.") var file = "muster.yml"
    @Flag(help: "Overwrite an existing file.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            if FileManager.default.fileExists(atPath: file) && !force {
                throw CLIError.usage("\(file) already exists; pass --force to overwrite it, or name another file")
            }
            try Self.example.write(toFile: file, atomically: true, encoding: .utf8)
            if global.json {
                Terminal.json(CommandJSON.Init(file: file))
            } else {
                print("wrote \(file): try `muster plan \(file)`, then `muster run \(file)` (or `muster run --simulate \(file)` for a dry run)")
            }
        }
    }

    static let example = """
        # A muster workflow: tasks, what they need, and what files they may change.
        # `muster plan muster.yml` shows the graph and estimates; `muster run muster.yml` runs it.
        name: folder-report
        agent: shell              # default agent: shell runs `command:`; claude, codex, … run a `prompt:`
        concurrency: 4            # tasks at once on this machine
        on_failure: stop          # stop: start nothing new after a failure; continue: skip only its dependents
        isolation: none           # these tasks only read: run them in place. The default, `worktree`, gives
                                  # every task its own git worktree and branch, checked against its `owns`.

        tasks:
          # Map: one task per top-level folder. `foreach` also takes `items: [...]`, or
          # `from: TASK` to fan out over the JSON list another task printed (decided at run time).
          survey:
            foreach: {glob: "*/"}
            shell: true           # run `command` through /bin/sh (otherwise it is an argv, no shell)
            command: |
              printf '{"folder":"%s","files":%d}\\n' "{{item}}" "$(find "{{item}}" -type f | wc -l)"
            timeout: 2m           # stop it (SIGTERM, then SIGKILL) after this long
            stall_timeout: 1m     # ...or after this long without output
            retries: 1            # retried with exponential back-off and jitter
            estimate: {minutes: 0.1}

          # Reduce: waits for every survey task; gets their results, each cut to a budget.
          report:
            needs: [survey]
            env:
              SURVEYS: "{{needs.survey.summaries}}"
            shell: true
            command: |
              printf '%s\\n' "$SURVEYS" | grep '^{' | sort

          # A coding agent instead of a command (needs that agent's CLI):
          # review:
          #   agent: claude
          #   isolation: worktree   # its own worktree and branch; `muster review RUN review` shows the diff
          #   needs: [report]
          #   prompt: "Summarise these folder surveys:\\n{{needs.report.summaries}}"
          #   owns: ["REPORT.md"]   # the only files it may change
          #   estimate: {minutes: 10, input_tokens: 20000, output_tokens: 3000}

        """
}

import Foundation
import Testing
@testable import MusterCore

struct TemplateTests {
    @Test
    func placeholdersMayHaveSpacesInside() {
        let found = Template.placeholders(in: "Audit {{ item }} now")
        #expect(found == [Template.Placeholder(name: "item", raw: "{{ item }}")])
    }

    @Test
    func findsEveryPlaceholderInOrder() {
        let found = Template.placeholders(in: "{{task.id}}: {{ needs.scan.summaries }} and {{item.name}}{{item.path}}")
        #expect(found.map(\.name) == ["task.id", "needs.scan.summaries", "item.name", "item.path"])
        #expect(found.map(\.raw) == ["{{task.id}}", "{{ needs.scan.summaries }}", "{{item.name}}", "{{item.path}}"])
    }

    @Test
    func unclosedBracesAreNotAPlaceholder() {
        #expect(Template.placeholders(in: "a {{item").isEmpty)
        #expect(Template.placeholders(in: "{{a}} then {{b").map(\.name) == ["a"])
        #expect(Template.render("{{a}} then {{b") { _ in "X" } == "X then {{b")
    }

    @Test
    func renderReplacesEveryOccurrence() {
        let values = ["a": "1", "b": "2"]
        #expect(Template.render("{{a}}-{{ b }}-{{a}}") { values[$0] } == "1-2-1")
    }

    @Test
    func renderKeepsUnknownPlaceholdersAsWritten() {
        #expect(Template.render("run {{ run.id }} / {{item}}") { $0 == "item" ? "x" : nil } == "run {{ run.id }} / x")
    }

    @Test
    func renderLeavesPlainTextAlone() {
        var asked = false
        #expect(Template.render("no braces } { here") { _ in asked = true; return "X" } == "no braces } { here")
        #expect(!asked)
    }

    @Test
    func renderedValuesAreNotRenderedAgain() {
        #expect(Template.render("{{a}}") { $0 == "a" ? "{{b}}" : "B" } == "{{b}}")
    }
}

struct DurationSpecTests {
    @Test(arguments: [
        ("90", 90.0), ("1.5", 1.5), ("0", 0), ("250ms", 0.25), ("30s", 30), ("20m", 1200), ("2h", 7200),
        ("1h30m", 5400), ("1m30s", 90), ("2d", 172_800), ("1.5h", 5400), (" 5m ", 300), ("1h0m0s", 3600),
        ("1s500ms", 1.5),
    ])
    func parsesSpecDurations(text: String, seconds: Double) throws {
        let duration = try #require(Duration.parseSpec(text), "\(text)")
        #expect(duration.seconds == seconds, "\(text)")
    }

    @Test(arguments: ["", "m", "s", "5x", "1h30", "-1s", "-5", "5 m", "1..5s", "abc", "1h-30m", "ms", "10sec", "nan"])
    func refusesMalformedDurations(text: String) {
        #expect(Duration.parseSpec(text) == nil, "\(text)")
    }

    @Test(arguments: ["inf", "infinity", "1e30"])
    func refusesInfiniteOrHugeDurations(text: String) {
        #expect(Duration.parseSpec(text) == nil, "\(text)")
    }

    @Test
    func secondsIncludesTheFraction() {
        #expect(Duration.milliseconds(1500).seconds == 1.5)
        #expect(Duration.seconds(3).seconds == 3)
    }

    @Test
    func humanizedPicksAReadableUnit() {
        #expect(Duration.milliseconds(850).humanized == "850ms")
        #expect(Duration.milliseconds(12_340).humanized == "12.3s")
        #expect(Duration.seconds(245).humanized == "4m05s")
        #expect(Duration.seconds(3720).humanized == "1h02m")
    }
}

struct ShellWordsTests {
    @Test
    func spacesSeparateWords() {
        #expect(ShellWords.split("make  test\tall") == ["make", "test", "all"])
        #expect(ShellWords.split("  ") == [])
        #expect(ShellWords.split("") == [])
    }

    @Test
    func quotesGroupWords() {
        #expect(ShellWords.split(#"git commit -m "fix the bug" --author 'A B'"#) == ["git", "commit", "-m", "fix the bug", "--author", "A B"])
    }

    @Test
    func quotesJoinAdjacentText() {
        #expect(ShellWords.split(#"ab"cd ef"gh 'x'y"#) == ["abcd efgh", "xy"])
    }

    @Test
    func emptyQuotesAreAnEmptyArgument() {
        #expect(ShellWords.split(#"a "" b ''"#) == ["a", "", "b", ""])
    }

    @Test
    func backslashEscapesOutsideAndInsideDoubleQuotes() {
        #expect(ShellWords.split(#"a\ b"#) == ["a b"])
        #expect(ShellWords.split(#""say \"hi\"""#) == [#"say "hi""#])
        #expect(ShellWords.split(#"\'"#) == ["'"])
    }

    @Test
    func singleQuotesKeepBackslashes() {
        #expect(ShellWords.split(#"'a\b' 'c\'"#) == [#"a\b"#, #"c\"#])
    }

    @Test
    func otherQuoteInsideQuotesIsLiteral() {
        #expect(ShellWords.split(#""it's" 'say "x"'"#) == ["it's", #"say "x""#])
    }

    @Test
    func noShellMetacharactersAreInterpreted() {
        #expect(ShellWords.split("echo $HOME *.swift | wc") == ["echo", "$HOME", "*.swift", "|", "wc"])
    }

    @Test(arguments: [#"echo "oops"#, "echo 'oops", #"trailing\"#, #""a\""#])
    func unclosedQuoteOrDanglingEscapeIsNil(text: String) {
        #expect(ShellWords.split(text) == nil, "\(text)")
    }
}

struct BackoffTests {
    let backoff = Backoff(initial: .seconds(1), max: .seconds(60))

    @Test
    func defaultsAreOneSecondToOneMinute() {
        #expect(Backoff() == backoff)
    }

    @Test
    func growsExponentially() {
        let full = (1...6).map { backoff.delay(attempt: $0, unit: 0.999_999_999).seconds }
        let expected: [Double] = [1, 2, 4, 8, 16, 32]
        for (got, want) in zip(full, expected) { #expect(abs(got - want) < 1e-6, "\(got) vs \(want)") }
    }

    @Test
    func isCappedAtMax() {
        #expect(abs(backoff.delay(attempt: 7, unit: 0.999_999_999).seconds - 60) < 1e-6)
        #expect(abs(backoff.delay(attempt: 30, unit: 0.999_999_999).seconds - 60) < 1e-6)
        #expect(backoff.delay(attempt: 30, unit: 0).seconds == 30)
        #expect(backoff.delay(attempt: 5_000, unit: 0.5).seconds == 45)
    }

    @Test
    func jitterLiesBetweenHalfAndFullStep() {
        for attempt in 1...8 {
            let step = min(pow(2, Double(attempt - 1)), 60)
            let low = backoff.delay(attempt: attempt, unit: 0).seconds
            let high = backoff.delay(attempt: attempt, unit: 0.999_999).seconds
            #expect(low == step / 2, "attempt \(attempt)")
            #expect(high <= step && high > step * 0.999, "attempt \(attempt)")
            let middle = backoff.delay(attempt: attempt, unit: 0.5).seconds
            #expect(middle >= low && middle <= high)
        }
    }

    @Test
    func attemptZeroIsTreatedAsTheFirst() {
        #expect(backoff.delay(attempt: 0, unit: 0) == backoff.delay(attempt: 1, unit: 0))
    }

    @Test
    func honoursCustomInitialAndMax() {
        let custom = Backoff(initial: .milliseconds(500), max: .seconds(3))
        #expect(custom.delay(attempt: 1, unit: 0).seconds == 0.25)
        #expect(custom.delay(attempt: 3, unit: 0).seconds == 1)
        #expect(custom.delay(attempt: 4, unit: 0).seconds == 1.5)
    }
}

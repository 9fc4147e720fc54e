import Foundation
import Testing
@testable import MusterCore

struct PlanEstimateTests {
    /// a → b, c → d with a 1, b 2, c 5, d 1 minutes: the long side is a → c → d (7 min), 9 min in all.
    static let diamond = """
        agent: sim
        tasks:
          a:
            estimate: {minutes: 1}
          b:
            needs: a
            estimate: {minutes: 2}
          c:
            needs: a
            estimate: {minutes: 5}
          d:
            needs: [b, c]
            estimate: {minutes: 1}
        """

    @Test
    func diamondHasThreeWaves() throws {
        let plan = try SpecFixture.plan(Self.diamond)
        #expect(plan.waves == [["a"], ["b", "c"], ["d"]])
    }

    @Test
    func criticalPathNamesTheLongestChain() throws {
        let estimate = try SpecFixture.plan(Self.diamond).estimate
        #expect(estimate.criticalPath == ["a", "c", "d"])
        #expect(estimate.criticalPathMinutes == 7)
        #expect(estimate.sequentialMinutes == 9)
        #expect(estimate.taskCount == 4)
        #expect(estimate.unestimatedTasks == 0)
    }

    @Test
    func wallClockAtConcurrencyOneIsTheSum() throws {
        let estimate = try SpecFixture.plan(Self.diamond, concurrency: 1).estimate
        #expect(estimate.wallClockMinutes == 9)
    }

    @Test
    func wallClockAtHighConcurrencyIsTheCriticalPath() throws {
        let estimate = try SpecFixture.plan(Self.diamond, concurrency: 64).estimate
        #expect(estimate.wallClockMinutes == 7)
    }

    @Test
    func fanInWaitsForEveryMemberOfTheGroup() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b, c]}
                estimate: {minutes: 2}
              report:
                needs: scan
                estimate: {minutes: 3}
            """, concurrency: 2)
        #expect(plan.waves == [["scan.a", "scan.b", "scan.c"], ["report"]])
        #expect(plan.tasks.last?.needs == ["scan"])
        // Two slots: scans finish at 2, 2, 4; the report runs 4…7.
        #expect(plan.estimate.wallClockMinutes == 7)
        #expect(plan.estimate.criticalPathMinutes == 5)
        #expect(plan.estimate.criticalPath.last == "report")
        #expect(plan.estimate.criticalPath.count == 2)
    }

    @Test
    func fanOutOfTenAtConcurrencyFourTakesThreeRounds() throws {
        let items = (1...10).map { "m\($0)" }.joined(separator: ", ")
        let estimate = try SpecFixture.plan("""
            agent: sim
            concurrency: 4
            tasks:
              scan:
                foreach: {items: [\(items)]}
                estimate: {minutes: 6}
            """).estimate
        #expect(estimate.taskCount == 10)
        #expect(estimate.wallClockMinutes == 18)  // ceil(10 / 4) × 6
        #expect(estimate.sequentialMinutes == 60)
        #expect(estimate.criticalPathMinutes == 6)
    }

    @Test
    func tasksWithoutEstimatesAreCountedAndTakeNoTime() throws {
        let estimate = try SpecFixture.plan("""
            agent: sim
            tasks:
              a:
                estimate: {minutes: 4}
              b:
                needs: a
            """).estimate
        #expect(estimate.unestimatedTasks == 1)
        #expect(estimate.wallClockMinutes == 4)
    }

    /// Seed 001: 100 tasks × (2,000 in + 500 out) on claude-opus-4-8 at $5/$25 per million = $2.25.
    @Test
    func hundredTaskFanOutCostsTwoDollarsTwentyFive() throws {
        let items = (1...100).map(String.init).joined(separator: ", ")
        let estimate = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [\(items)]}
                estimate: {input_tokens: 2000, output_tokens: 500}
            """).estimate
        #expect(estimate.tokens == TokenUsage(input: 200_000, output: 50_000))
        let cost = try #require(estimate.costUSD)
        #expect(abs(cost - 2.25) < 1e-9, "cost \(cost)")
        #expect(estimate.unpricedModels.isEmpty)
    }

    @Test
    func unknownModelMakesCostUnknownNotZero() throws {
        let estimate = try SpecFixture.plan("""
            agent: sim
            tasks:
              a:
                estimate: {input_tokens: 1000, output_tokens: 100}
              b:
                model: mystery-model-9
                estimate: {input_tokens: 1000, output_tokens: 100}
            """).estimate
        #expect(estimate.costUSD == nil)
        #expect(estimate.unpricedModels == ["mystery-model-9"])
        #expect(estimate.tokens == TokenUsage(input: 2000, output: 200))
    }

    @Test
    func shellTasksCostNothing() throws {
        let estimate = try SpecFixture.plan("""
            tasks:
              build:
                command: [make]
                estimate: {minutes: 2}
              lint:
                command: [make, lint]
            """).estimate
        #expect(estimate.costUSD == 0)
        #expect(estimate.unpricedModels.isEmpty)
        #expect(estimate.tokens.total == 0)
    }

    @Test
    func shellTasksAddNothingToAPricedPlan() throws {
        let estimate = try SpecFixture.plan("""
            agent: sim
            tasks:
              build:
                agent: shell
                command: [make]
                estimate: {minutes: 2}
              review:
                estimate: {input_tokens: 1000000, output_tokens: 0}
            """).estimate
        #expect(estimate.costUSD == 5)
    }

    @Test
    func expanderTasksAreNotEstimated() throws {
        let estimate = try SpecFixture.plan("""
            agent: sim
            tasks:
              plan:
                estimate: {minutes: 2, input_tokens: 1000000}
              work:
                foreach: {from: plan}
                estimate: {minutes: 50, input_tokens: 1000000}
            """).estimate
        #expect(estimate.taskCount == 1)
        #expect(estimate.sequentialMinutes == 2)
        #expect(estimate.tokens.input == 1_000_000)
        #expect(estimate.costUSD == 5)
        #expect(estimate.dynamicGroups == ["work"])
    }
}

struct PriceTableTests {
    @Test
    func defaultOpusPrices() throws {
        let price = try #require(PriceTable.defaults.models["claude-opus-4-8"])
        #expect(price.input == 5)
        #expect(price.output == 25)
        #expect(price.cacheWrite == 6.25)
        #expect(price.cacheRead == 0.5)
    }

    @Test
    func costCountsEveryKindOfToken() throws {
        let table = PriceTable(models: ["m": ModelPrice(input: 2, output: 10, cacheWrite: 3, cacheRead: 0.5)])
        let cost = try #require(table.cost(model: "m", usage: TokenUsage(input: 1_000_000, output: 100_000,
                                                                          cacheRead: 2_000_000, cacheWrite: 1_000_000)))
        #expect(abs(cost - (2 + 1 + 1 + 3)) < 1e-9)
    }

    @Test
    func noTokensCostZeroEvenWithoutAModel() {
        #expect(PriceTable.defaults.cost(model: nil, usage: TokenUsage()) == 0)
        #expect(PriceTable.defaults.cost(model: "unknown", usage: TokenUsage()) == 0)
    }

    @Test
    func tokensOnAnUnknownModelHaveNoPrice() {
        #expect(PriceTable.defaults.cost(model: "unknown", usage: TokenUsage(input: 1)) == nil)
        #expect(PriceTable.defaults.cost(model: nil, usage: TokenUsage(output: 1)) == nil)
    }

    @Test
    func customTableOverridesDefaults() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              a:
                estimate: {input_tokens: 1000000}
            """, prices: PriceTable(models: ["claude-opus-4-8": ModelPrice(input: 1, output: 1)]))
        #expect(plan.estimate.costUSD == 1)
    }
}

struct ParallelismAdviceTests {
    private func advice(_ yaml: String, concurrency: Int? = nil) throws -> ParallelismAdvice {
        let plan = try SpecFixture.plan(yaml, concurrency: concurrency)
        #expect(plan.advice.count == 1)
        return try #require(plan.advice.first)
    }

    @Test
    func belowBreakEvenAdvisesSequential() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b, c, d]}
                estimate: {minutes: 3}
            """)
        #expect(advice.group == "scan")
        #expect(advice.subTasks == 4)
        #expect(advice.kind == .exploration)
        #expect(advice.breakEvenMinutes == 5)
        #expect(advice.verdict == .sequential)
        #expect(advice.message.contains("below break-even"))
    }

    @Test
    func aboveBreakEvenAdvisesParallel() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b, c, d, e]}
                estimate: {minutes: 6}
            """, concurrency: 2)
        #expect(advice.verdict == .parallel)
        #expect(advice.minutesPerTask == 6)
        #expect(advice.sequentialMinutes == 30)
        #expect(advice.fanOutMinutes == 18)  // ceil(5 / 2) × 6
        #expect(advice.message.contains("fan out"))
    }

    @Test
    func exactlyAtBreakEvenAdvisesParallel() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b]}
                estimate: {minutes: 5}
            """)
        #expect(advice.verdict == .parallel)
    }

    @Test
    func tasksThatOwnFilesDefaultToImplementation() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              fix:
                foreach: {items: [a, b, c]}
                owns: ["{{item}}/"]
                estimate: {minutes: 15}
            """)
        #expect(advice.kind == .implementation)
        #expect(advice.breakEvenMinutes == 20)
        #expect(advice.verdict == .sequential)
    }

    @Test
    func readOnlyTasksDefaultToExploration() {
        #expect(TaskSpec(id: "a").effectiveKind == .exploration)
        #expect(TaskSpec(id: "a", owns: ["x"]).effectiveKind == .implementation)
        #expect(TaskSpec(id: "a", owns: ["x"], kind: .exploration).effectiveKind == .exploration)
        #expect(WorkKind.exploration.breakEvenMinutes == 5)
        #expect(WorkKind.independent.breakEvenMinutes == 10)
        #expect(WorkKind.implementation.breakEvenMinutes == 20)
    }

    @Test
    func explicitIndependentKindBreaksEvenAtTenMinutes() throws {
        let yaml = { (minutes: Int) in """
            agent: sim
            tasks:
              gen:
                foreach: {items: [a, b, c]}
                owns: ["{{item}}/"]
                kind: independent
                estimate: {minutes: \(minutes)}
            """ }
        let below = try advice(yaml(9))
        #expect(below.kind == .independent)
        #expect(below.breakEvenMinutes == 10)
        #expect(below.verdict == .sequential)
        #expect(try advice(yaml(12)).verdict == .parallel)
    }

    @Test
    func sequentialCostIsFanOutCostOverTwoPointTwoToOnePointEight() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b, c, d]}
                estimate: {minutes: 8, input_tokens: 250000, output_tokens: 40000}
            """)
        // 4 × (0.25 M × $5 + 0.04 M × $25) = 4 × $2.25 = $9
        let cost = try #require(advice.fanOutCostUSD)
        #expect(abs(cost - 9) < 1e-9)
        let range = try #require(advice.sequentialCostUSD)
        #expect(abs(range.lowerBound - 9 / 2.2) < 1e-9)
        #expect(abs(range.upperBound - 9 / 1.8) < 1e-9)
        #expect(advice.message.contains("$9.00"))
    }

    @Test
    func noCostWithoutTokenEstimates() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b]}
                estimate: {minutes: 8}
            """)
        #expect(advice.fanOutCostUSD == nil)
        #expect(advice.sequentialCostUSD == nil)
    }

    @Test
    func missingMinutesGivesNoVerdict() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b]}
            """)
        #expect(advice.verdict == .unknown)
        #expect(advice.message.contains("estimate.minutes"))
    }

    @Test
    func singleItemIsNothingToParallelize() throws {
        let advice = try advice("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a]}
                estimate: {minutes: 60}
            """)
        #expect(advice.verdict == .sequential)
    }

    @Test
    func dynamicFanOutIsAdvisedAtRunTime() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              plan:
                prompt: list
              work:
                foreach: {from: plan}
                estimate: {minutes: 30}
            """)
        let advice = try #require(plan.advice.first)
        #expect(plan.advice.count == 1)
        #expect(advice.group == "work")
        #expect(advice.verdict == .dynamic)
        #expect(advice.subTasks == 0)
    }

    @Test
    func tasksWithoutForeachGetNoAdvice() throws {
        #expect(try SpecFixture.plan(PlanEstimateTests.diamond).advice.isEmpty)
    }
}

import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epilogue-bench",
        abstract: "Epilogue's benchmarks. Figures are printed, never asserted; see docs/PERFORMANCE.md.",
        subcommands: [CompressionBench.self, CompressionCostBench.self, SearchBench.self, PopulateBench.self, LoadBench.self, ExportBench.self])
}

// swift-tools-version:6.1
// libFuzzer targets for Epilogue. Kept apart from the main package: a fuzzer build instruments
// everything with -sanitize=fuzzer, which a plain `swift build` of the main package can't share.
// Build and run with ./run.sh (see README.md).
import PackageDescription

let package = Package(
    name: "EpilogueFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzFrameDecoder", dependencies: ["FuzzDriver", .product(name: "EpilogueProtocol", package: "main")]),
        .executableTarget(name: "FuzzTextCommand", dependencies: ["FuzzDriver", .product(name: "EpilogueGateway", package: "main")]),
        .executableTarget(name: "FuzzLogRecovery", dependencies: ["FuzzDriver", .product(name: "EpilogueStore", package: "main")]),
    ],
    swiftLanguageModes: [.v6]
)

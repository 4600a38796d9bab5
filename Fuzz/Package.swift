// swift-tools-version:6.1
// libFuzzer targets for Epilogue. Kept apart from the main package: a fuzzer build instruments
// everything with -sanitize=fuzzer, which a plain `swift build` of the main package can't share.
// Build and run with ./run.sh (see README.md).
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder (lower-cased), so the main package's name is
// whatever the checkout was cloned into: read it rather than assume "main".
let epilogue = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

let package = Package(
    name: "EpilogueFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzFrameDecoder", dependencies: ["FuzzDriver", .product(name: "EpilogueProtocol", package: epilogue)]),
        .executableTarget(name: "FuzzTextCommand", dependencies: ["FuzzDriver", .product(name: "EpilogueGateway", package: epilogue)]),
        .executableTarget(name: "FuzzLogRecovery", dependencies: ["FuzzDriver", .product(name: "EpilogueStorage", package: epilogue)]),
        .executableTarget(name: "FuzzSearchQuery", dependencies: ["FuzzDriver", .product(name: "EpilogueStorage", package: epilogue)]),
    ],
    swiftLanguageModes: [.v6]
)

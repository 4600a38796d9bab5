import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// The bundled dataset as a reference work (docs/DATASET.md): every record keeps to the controlled
/// vocabulary, every listed entry is used, the docs map every record, and, where the seed articles
/// are present, sourceRefs point at real sections and no reading copies an article.
@Suite struct DatasetVocabularyTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The seed articles live outside the repository (`../shared/seeds`, or `EPILOGUE_SEEDS`);
    /// CI may not have them, so the tests that read them are skipped there.
    static let seeds: URL = {
        if let path = ProcessInfo.processInfo.environment["EPILOGUE_SEEDS"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return repository.deletingLastPathComponent().appendingPathComponent("shared/seeds")
    }()

    static var seedsPresent: Bool {
        DatasetVocabulary.articles.allSatisfy { FileManager.default.fileExists(atPath: seeds.appendingPathComponent($0.file).path) }
    }

    static func seedText(_ file: String) throws -> String {
        try String(contentsOf: seeds.appendingPathComponent(file), encoding: .utf8)
    }

    @Test func everyBundledRecordUsesListedThemesSubjectsAndSourceRefs() throws {
        for entry in try BundledDataset.load() {
            let content = entry.content
            let film = try #require(DatasetVocabulary.film(titled: content.film), "\(entry.id): film '\(content.film)'")
            #expect(film.subjects.contains { $0.name == content.subject }, "\(entry.id): subject '\(content.subject)'")
            for theme in content.themes { #expect(DatasetVocabulary.isTheme(theme), "\(entry.id): theme '\(theme)'") }
            #expect(DatasetVocabulary.isSourceRef(entry.sourceRef), "\(entry.id): sourceRef '\(entry.sourceRef)'")
            #expect(content.source.hasSuffix(" [\(entry.sourceRef)]"), "\(entry.id): source does not end with its sourceRef")
            #expect(entry.id.hasPrefix(film.slug + "/"), "\(entry.id): id does not start with '\(film.slug)/'")
        }
    }

    @Test func idsFollowTheSchemeAndSpeakerPrefixesMeanTheSpeakersOwnWords() throws {
        for entry in try BundledDataset.load() {
            let content = entry.content
            let broken = DatasetVocabulary.violation(id: entry.id, film: content.film, subject: content.subject, themes: content.themes,
                                                     sourceKind: content.sourceKind.name, sourceRef: entry.sourceRef)
            #expect(broken == nil, "\(entry.id): \(broken.map { "\($0.field): \($0.reason)" } ?? "")")
        }
    }

    @Test func everyListedThemeAndSubjectIsUsedAndThemesAreFree() throws {
        let entries = try BundledDataset.load()
        let usedThemes = Set(entries.flatMap(\.content.themes))
        for theme in DatasetVocabulary.themes { #expect(usedThemes.contains(theme.name), "theme '\(theme.name)' is listed but unused") }
        for film in DatasetVocabulary.films {
            let used = Set(entries.filter { $0.content.film == film.title }.map(\.content.subject))
            for subject in film.subjects { #expect(used.contains(subject.name), "\(film.title): subject '\(subject.name)' is listed but unused") }
        }
        // Themes describe the film; tags about the source went with the vocabulary.
        for tag in ["interpretation", "critique", "auteur", "recognition", "ending"] { #expect(!DatasetVocabulary.isTheme(tag)) }
        // A subject names a part of the film, never a theme.
        for film in DatasetVocabulary.films {
            for subject in film.subjects { #expect(!DatasetVocabulary.isTheme(subject.name), "subject '\(subject.name)' is a theme") }
        }
    }

    @Test func docsDatasetDefinesEveryThemeAndSubjectAndMapsEveryRecord() throws {
        let doc = try String(contentsOf: Self.repository.appendingPathComponent("docs/DATASET.md"), encoding: .utf8)
        for theme in DatasetVocabulary.themes { #expect(doc.contains("`\(theme.name)`"), "docs/DATASET.md does not define theme '\(theme.name)'") }
        for film in DatasetVocabulary.films {
            for subject in film.subjects { #expect(doc.contains("`\(subject.name)`"), "docs/DATASET.md does not define subject '\(subject.name)'") }
        }
        for entry in try BundledDataset.load() { #expect(doc.contains(entry.id), "docs/DATASET.md does not map \(entry.id)") }
    }

    @Test(.enabled(if: DatasetVocabularyTests.seedsPresent, "seed articles not found at ../shared/seeds (or $EPILOGUE_SEEDS); skipping the checks that read them"))
    func sourceRefsNameRealArticleSections() throws {
        for article in DatasetVocabulary.articles {
            let lines = try Self.seedText(article.file).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            for section in article.sections {
                #expect(lines.contains { $0.hasPrefix(section.anchor) }, "\(article.file): no line starts with '\(section.anchor)'")
                if section.slug != "intro" && !section.slug.hasSuffix("-intro") {
                    #expect(DatasetVocabulary.slug(section.anchor) == section.slug, "\(article.file): '\(section.anchor)' is not '\(section.slug)'")
                }
            }
        }
    }

    @Test(.enabled(if: DatasetVocabularyTests.seedsPresent, "seed articles not found at ../shared/seeds (or $EPILOGUE_SEEDS); skipping the checks that read them"))
    func noReadingSharesEightConsecutiveWordsWithASeedArticle() throws {
        var articleRuns = Set<[String]>()
        for article in DatasetVocabulary.articles {
            let words = CopyCheck.words(try Self.seedText(article.file))
            if words.count >= CopyCheck.run { for i in 0...(words.count - CopyCheck.run) { articleRuns.insert(Array(words[i..<i + CopyCheck.run])) } }
        }
        #expect(!articleRuns.isEmpty)
        for entry in try BundledDataset.load() {
            for run in CopyCheck.runs(ofUnquoted: entry.content.reading) where articleRuns.contains(run) {
                Issue.record("\(entry.id) repeats an article: \"\(run.joined(separator: " "))\"")
            }
        }
    }

    @Test func theCopyCheckIgnoresQuotedPhrasesAndPunctuation() {
        let reading = #"He said "one two three four five six seven eight" and left."#
        #expect(CopyCheck.runs(ofUnquoted: reading).isEmpty)
        #expect(CopyCheck.words("Don’t STOP, believing: 1 2") == ["don't", "stop", "believing", "1", "2"])
        #expect(CopyCheck.runs(ofUnquoted: "a b c d e f g h i").count == 2)
    }
}

/// Word runs for the copy check: lower-case words (letters, digits, inner apostrophes); a quoted
/// passage ("…" or “…”) is left out and breaks the run, since a short quote with its speaker is allowed.
enum CopyCheck {
    static let run = 8

    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var word = ""
        for character in text.lowercased().replacingOccurrences(of: "’", with: "'") {
            if character.isLetter || character.isNumber || (character == "'" && !word.isEmpty) {
                word.append(character)
            } else if !word.isEmpty {
                words.append(word.trimmingCharacters(in: CharacterSet(charactersIn: "'")))
                word = ""
            }
        }
        if !word.isEmpty { words.append(word.trimmingCharacters(in: CharacterSet(charactersIn: "'"))) }
        return words.filter { !$0.isEmpty }
    }

    static func runs(ofUnquoted reading: String) -> [[String]] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        for character in reading {
            if character == "\"" || character == "“" || character == "”" {
                if !quoted { pieces.append(current) }
                current = ""
                quoted.toggle()
            } else if !quoted {
                current.append(character)
            }
        }
        pieces.append(current)
        return pieces.flatMap { piece -> [[String]] in
            let words = words(piece)
            guard words.count >= run else { return [] }
            return (0...(words.count - run)).map { Array(words[$0..<$0 + run]) }
        }
    }
}

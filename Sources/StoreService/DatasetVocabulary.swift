/// The controlled vocabulary of the bundled dataset (docs/DATASET.md explains each entry and maps
/// the seed articles onto the records). `BundledDataset` accepts a bundled record only if its
/// themes, subject, source reference and id are drawn from here; records users write themselves
/// are not held to it (`RecordValidator` only checks the theme syntax).
public enum DatasetVocabulary {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var meaning: String
    }

    public struct Film: Sendable {
        public var title: String
        /// The id prefix of its records: `<slug>/…`.
        public var slug: String
        /// Scenes and parts of the film a record can be about.
        public var subjects: [Entry]
        /// Id prefixes reserved for records carrying a named person's own words
        /// (sourceKind director or cast): `<slug>/<speaker>-…`.
        public var speakers: [String]
    }

    /// A seed article and its sections. A section is named by the slug of its heading (see
    /// `slug(_:)`); `anchor` is the heading as printed, or for a part without a heading the
    /// opening words of its first paragraph.
    public struct Article: Sendable {
        public var file: String
        public var about: String
        public var sections: [(slug: String, anchor: String)]
    }

    public static let themes: [Entry] = [
        .init(name: "ambition", meaning: "pursuing a dream or a calling, and what that pursuit demands"),
        .init(name: "sacrifice", meaning: "what a character gives up, or loses, to reach a goal"),
        .init(name: "dreams-vs-love", meaning: "the pull between following a dream and keeping a relationship"),
        .init(name: "success", meaning: "having reached the dream, and what success does to the people who reach it"),
        .init(name: "growth", meaning: "how the characters change and mature, often through each other"),
        .init(name: "lasting-love", meaning: "love that outlives the relationship, as feeling, memory or influence"),
        .init(name: "memory", meaning: "the past as the characters keep it: shared memories, family memories, acts of remembrance"),
        .init(name: "what-if", meaning: "the imagined other life; the roads not taken"),
        .init(name: "happily-ever-after", meaning: "the conventional happy ending of a love story: wished for, imagined or refused"),
        .init(name: "bittersweet", meaning: "sadness and fulfilment felt at once"),
        .init(name: "loss", meaning: "what is lost, and the pain of losing it"),
        .init(name: "realism", meaning: "the ending as true to life rather than idealised"),
        .init(name: "acceptance", meaning: "coming to terms with how things turned out"),
        .init(name: "influence", meaning: "what each person left in the other's life and work"),
        .init(name: "music", meaning: "Sebastian's jazz and their theme as the way the film speaks about the couple"),
        .init(name: "support", meaning: "backing someone else's dream, even when it takes them away"),
        .init(name: "unpredictability", meaning: "life and love not going as planned"),
        .init(name: "identity", meaning: "who the characters are: their calling, their heritage, their roots"),
        .init(name: "family", meaning: "family ties, their history and their strains"),
        .init(name: "grief", meaning: "mourning and carrying pain, private and collective"),
        .init(name: "isolation", meaning: "being alone, cut off, or without a place to go"),
        .init(name: "fear", meaning: "dread of what may happen, here for someone else's life"),
        .init(name: "guilt", meaning: "self-reproach for what one did or failed to do"),
        .init(name: "reconciliation", meaning: "repairing a damaged bond"),
        .init(name: "closure", meaning: "whether a visit or an ending brings the resolution hoped for"),
        .init(name: "open-ending", meaning: "an ending that leaves what happens next to the viewer"),
        .init(name: "history", meaning: "how the Holocaust is remembered and taught today"),
        .init(name: "meaning", meaning: "the search for meaning in life and in history"),
    ]

    public static let films: [Film] = [
        Film(title: "La La Land", slug: "la-la-land", subjects: [
            .init(name: "the romance", meaning: "Mia and Sebastian's relationship through the film, before the audition: meeting, support, strains"),
            .init(name: "paris audition", meaning: "Mia's audition for the Paris role and the talk after it in which they decide to part"),
            .init(name: "five years later", meaning: "the epilogue's present: where each has landed (her stardom and marriage, his club) and the evening at Seb's until he plays"),
            .init(name: "what-if montage", meaning: "the imagined life together that plays while Sebastian plays their theme"),
            .init(name: "final look", meaning: "back in reality: the last note, Mia at the door, the look and smile, Sebastian playing on"),
            .init(name: "the ending as a whole", meaning: "readings of the conclusion overall (its choice not to reunite them, its tone, its reception) rather than of one scene"),
            .init(name: "the whole film", meaning: "claims about the film at large, beyond its ending"),
        ], speakers: ["chazelle", "emma-stone"]),
        Film(title: "A Real Pain", slug: "a-real-pain", subjects: [
            .init(name: "the cousins' relationship", meaning: "David and Benji's history, Benji's overdose, and the trip as an attempt to mend things"),
            .init(name: "the holocaust tour", meaning: "the tour led by James, Benji's criticism of it, and the visit to Majdanek"),
            .init(name: "grandmother's house", meaning: "the visit to their grandmother's childhood home in Krasnystaw, stones on the stoop included"),
            .init(name: "airport ending", meaning: "the final scene: Benji staying behind at the airport, and its readings"),
            .init(name: "the whole film", meaning: "claims about the film at large: premise, themes, questions it leaves"),
        ], speakers: ["culkin"]),
    ]

    public static let articles: [Article] = [
        Article(file: "000_b0820857b30104be.txt",
                about: "explainer on the endings of La La Land and then A Real Pain, under a La La Land title", sections: [
            (slug: "intro", anchor: "La La Land ends in a way that subverts"),
            (slug: "la-la-land-ending-explained", anchor: "La La Land Ending Explained"),
            (slug: "the-dream-sequence-and-its-surreal-significance", anchor: "The Dream Sequence and Its Surreal Significance"),
            (slug: "the-significance-of-sebastians-club", anchor: "The Significance of Sebastian’s Club"),
            (slug: "the-emotional-complexity-of-la-la-lands-ending", anchor: "The Emotional Complexity of La La Land’s Ending"),
            (slug: "chanelles-consistent-theme-across-films", anchor: "Chanelle’s Consistent Theme Across Films"),
            (slug: "la-la-lands-bold-ending-a-modern-masterpiece", anchor: "La La Land’s Bold Ending: A Modern Masterpiece"),
            (slug: "emma-stones-take-on-the-ending", anchor: "Emma Stone’s Take on the Ending"),
            (slug: "a-real-pain-intro", anchor: "A Real Pain, directed by Jesse Eisenberg"),
            (slug: "a-real-pain-ending-explained", anchor: "A Real Pain Ending Explained"),
            (slug: "a-grandmothers-home-unfulfilled-expectations", anchor: "A Grandmother’s Home: Unfulfilled Expectations"),
            (slug: "the-strained-relationship-between-david-and-benji", anchor: "The Strained Relationship Between David and Benji"),
            (slug: "benjis-impact-on-the-holocaust-tour", anchor: "Benji’s Impact on the Holocaust Tour"),
            (slug: "exploring-the-deeper-meaning-of-a-real-pain", anchor: "Exploring the Deeper Meaning of A Real Pain"),
        ]),
        Article(file: "001_95489ebe2dc5ffc2.txt", about: "fan-style essay on La La Land's ending", sections: [
            (slug: "intro", anchor: "Hey guys, let's dive deep into the ending of La La Land"),
            (slug: "the-what-if-montage-a-dream-realized-briefly", anchor: "The 'What If' Montage: A Dream Realized, Briefly"),
            (slug: "sacrifices-for-dreams-the-cost-of-ambition", anchor: "Sacrifices for Dreams: The Cost of Ambition"),
            (slug: "the-realism-factor-why-it-resonates", anchor: "The Realism Factor: Why It Resonates"),
            (slug: "the-enduring-impact-of-la-la-lands-conclusion", anchor: "The Enduring Impact of La La Land's Conclusion"),
        ]),
        Article(file: "002_367b70248f757392.txt", about: "explainer on La La Land's ending and its montage, written when the film reached Netflix", sections: [
            (slug: "intro", anchor: "La La Land ending explained: Meaning of Mia & Sebastian montage"),
            (slug: "la-la-land-ending-explained", anchor: "La La Land ending explained"),
            (slug: "what-does-the-montage-mean", anchor: "What does the montage mean?"),
        ]),
    ]

    public static func isTheme(_ name: String) -> Bool { themes.contains { $0.name == name } }

    public static func film(titled title: String) -> Film? { films.first { $0.title == title } }

    /// `<article file>#<section slug>`, both listed above.
    public static func isSourceRef(_ ref: String) -> Bool {
        let parts = ref.split(separator: "#", omittingEmptySubsequences: false)
        guard parts.count == 2, let article = articles.first(where: { $0.file == parts[0] }) else { return false }
        return article.sections.contains { $0.slug == parts[1] }
    }

    /// Lower-case words of a heading joined by '-', apostrophes dropped: "Benji’s Impact" → "benjis-impact".
    public static func slug(_ heading: String) -> String {
        var words: [String] = []
        var word = ""
        for character in heading.lowercased() {
            if character == "'" || character == "’" { continue }
            if character.isASCII && (character.isLetter || character.isNumber) {
                word.append(character)
            } else if !word.isEmpty {
                words.append(word)
                word = ""
            }
        }
        if !word.isEmpty { words.append(word) }
        return words.joined(separator: "-")
    }

    /// Where a bundled record breaks the vocabulary, or nil. Ids are `<film slug>/<words>` in
    /// lower-case ASCII words joined by '-'; a record starts with a speaker's prefix exactly when it
    /// carries that person's own words (sourceKind director or cast).
    static func violation(id: String, film title: String, subject: String, themes: [String],
                          sourceKind: String, sourceRef: String) -> (field: String, reason: String)? {
        guard let film = film(titled: title) else { return ("film", "'\(title)' is not a film of the bundled dataset") }
        guard film.subjects.contains(where: { $0.name == subject }) else {
            return ("subject", "'\(subject)' is not a listed subject of \(title)")
        }
        if let theme = themes.first(where: { !isTheme($0) }) { return ("themes", "'\(theme)' is not a listed theme") }
        guard isSourceRef(sourceRef) else { return ("sourceRef", "'\(sourceRef)' names no listed article section") }
        let prefix = film.slug + "/"
        guard id.hasPrefix(prefix) else { return ("id", "must start with '\(prefix)'") }
        let name = id.dropFirst(prefix.count)
        guard !name.isEmpty, name.split(separator: "-", omittingEmptySubsequences: false).allSatisfy({ part in
            !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        }) else { return ("id", "must be '\(prefix)' then lower-case words joined by '-'") }
        let speaks = sourceKind == "director" || sourceKind == "cast"
        let hasSpeakerPrefix = film.speakers.contains { name.hasPrefix($0 + "-") }
        if speaks != hasSpeakerPrefix {
            return ("id", speaks ? "a \(sourceKind) record starts with its speaker (\(film.speakers.joined(separator: ", ")))"
                                 : "only director and cast records start with a speaker's name")
        }
        return nil
    }
}

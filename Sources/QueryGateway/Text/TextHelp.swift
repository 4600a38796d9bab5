/// HELP: a line per command, and usage, description and an example per command.
enum TextHelp {
    struct Entry {
        var usage: String
        var summary: String
        var details: [String]
        var example: String
    }

    static let entries: [String: Entry] = [
        "HELP": Entry(usage: "HELP [command]", summary: "list commands, or explain one", details: [], example: "HELP SEARCH"),
        "PING": Entry(usage: "PING", summary: "check the gateway and the store answer", details: ["Answers OK PONG when the store is reachable."], example: "PING"),
        "FILMS": Entry(usage: "FILMS", summary: "films with their year, director and record count", details: [], example: "FILMS"),
        "THEMES": Entry(usage: "THEMES [film=<title>]", summary: "theme tags with record counts", details: ["Most used first; film= restricts to one film."], example: "THEMES film=\"La La Land\""),
        "GET": Entry(usage: "GET <id>", summary: "one record, every field", details: [], example: "GET la-la-land/epilogue-what-if"),
        "FIND": Entry(usage: "FIND [film=…] [theme=…] [source=…] [subject=…] [limit=N] [offset=N]", summary: "records matching filters, by id",
                      details: ["source is a source kind: director, cast, critic, article, audience.", "limit defaults to 20 (at most 1000); the summary says how many matched in all."],
                      example: "FIND film=\"A Real Pain\" source=director limit=5"),
        "SEARCH": Entry(usage: "SEARCH <words…> [film=…] [theme=…] [source=…] [subject=…] [limit=N] [offset=N] [fuzzy=1]", summary: "ranked full-text search (BM25)",
                        details: ["Every word must occur (as in SQLite FTS5); case and accents are ignored.",
                                  "Searches film, subject, reading and source. Syntax (FTS5's): \"one-woman show\" is a phrase, dre* a prefix,",
                                  "  dream OR quokka, dream NOT love, (a OR b) c, and column filters reading:dream subject:(airport OR \"last scene\").",
                                  "  Examples: SEARCH \"final look\" OR smile   SEARCH dre* NOT reading:jazz   SEARCH subject:airport benji", "Each hit: rank, score (lower is better), id, film / subject, then a snippet with matches in [brackets].", "limit defaults to 10 (at most 100); the summary says how many matched in all, e.g. OK 10 of 48 hits (1–10).",
                                  "No match suggests close words: OK 0 hits (did you mean: chazelle?); fuzzy=1 searches with them."],
                        example: "SEARCH dream sacrifice film=\"La La Land\" limit=3"),
        "PUT": Entry(usage: "PUT <id> film=… year=… director=… subject=… reading=… source=… sourceKind=… [themes=a,b] [ifversion=N]", summary: "create or replace a record",
                     details: ["Values with spaces go in double quotes; \\\" \\\\ and \\n escape inside them.", "ifversion=N writes only if the record is at version N (0: only if it does not exist), else ERR CONFLICT.", "Needs AUTH first when the gateway has a write token."],
                     example: "PUT demo/1 film=\"La La Land\" year=2016 director=\"Damien Chazelle\" subject=epilogue reading=\"A what-if.\" source=\"me\" sourceKind=audience themes=what-if"),
        "DEL": Entry(usage: "DEL <id> [ifversion=N]", summary: "delete a record", details: ["Needs AUTH first when the gateway has a write token."], example: "DEL demo/1"),
        "EXPORT": Entry(usage: "EXPORT [film=…] [theme=…] [source=…] [subject=…]", summary: "every matching record as JSON lines",
                        details: ["One JSON object per body line (the FORMAT json record), ordered by id, all as of one moment.", "Whatever FORMAT is set; IMPORT-ready."],
                        example: "EXPORT film=\"La La Land\""),
        "IMPORT": Entry(usage: "IMPORT [mode=replace|skip] [keep-versions]", summary: "load JSON lines (EXPORT's) until a line with a single dot",
                        details: ["Send the command, then one record object per line, then a line holding a single dot.",
                                  "Every line is checked; a bad one ends the import: ERR BAD_REQUEST line N: … and nothing of its batch is applied.",
                                  "Batches of 1000 records (512 KiB) are applied all or nothing, one after the other; the answer counts them.",
                                  "mode=skip leaves existing ids alone; keep-versions writes each line's version and updatedAt (a restore).",
                                  "From a shell: (echo IMPORT; cat records.jsonl; echo .) | nc -q1 HOST PORT", "Needs AUTH first when the gateway has a write token."],
                        example: "IMPORT mode=skip"),
        "STATS": Entry(usage: "STATS", summary: "gateway and store figures", details: ["Records, raw vs stored bytes, connections, uptime, store reachability."], example: "STATS"),
        "FORMAT": Entry(usage: "FORMAT text|json", summary: "switch output format for this connection", details: ["json: every body line is one JSON object."], example: "FORMAT json"),
        "AUTH": Entry(usage: "AUTH <token>", summary: "unlock PUT and DEL on this connection", details: [], example: "AUTH s3cret"),
        "QUIT": Entry(usage: "QUIT", summary: "close the connection", details: [], example: "QUIT"),
    ]

    static func example(for command: String) -> String {
        entries[command]?.example ?? command
    }

    static func overview() -> TextResponse {
        let rows = TextCommand.names.map { [$0, entries[$0]!.summary] }
        var body = TextRenderer.table(header: ["COMMAND", "WHAT IT DOES"], rows: rows)
        body.append("")
        body.append("Every answer: OK or ERR <CODE> <message>, body lines, then a line with a single dot.")
        body.append("HELP <command> explains one command with an example.")
        return .ok("\(rows.count) commands", body: body)
    }

    static func topic(_ name: String) -> TextResponse {
        let key = name == "DELETE" ? "DEL" : name == "EXIT" ? "QUIT" : name
        guard let entry = entries[key] else {
            return .error(code: .badRequest, message: "no help for '\(name)' (try HELP)")
        }
        return .ok(key, body: ["usage:   \(entry.usage)", "         \(entry.summary)"] + entry.details.map { "         \($0)" } + ["example: \(entry.example)"])
    }
}

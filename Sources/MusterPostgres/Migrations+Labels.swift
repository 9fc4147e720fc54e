extension Migrations {
    /// Migration pg9: task labels. `tasks.runs_on` holds the labels a claimer must all have (empty:
    /// anyone may claim; the claim tests `runs_on <@ labels`); `workers.labels` the labels a worker
    /// claims with (NULL: none), for `muster ps`.
    static let taskLabels = [
        "ALTER TABLE tasks ADD COLUMN runs_on TEXT[] NOT NULL DEFAULT '{}'",
        "ALTER TABLE workers ADD COLUMN labels TEXT[]",
    ]
}

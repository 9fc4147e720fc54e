import MusterStore

/// The one place MusterWeb names the Store it reads. Views only read; the two control actions
/// (`--allow-control`) call the Store's own `requestCancel` and `reopen`, as `muster cancel` and
/// `muster resume` do.
public typealias BoardStore = any Store

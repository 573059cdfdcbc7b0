//! Who is who: which TimeCamp account each active prepared record is, and
//! what every other account is to the source.
//!
//! [`resolve`] is the one place that decides it. The planner, `--explain`,
//! the HTML plan and the summary all read its [`Identities`]; the rules are
//! the table of `docs/matching.md`. For every input they keep these
//! invariants, which the tests check on generated worlds:
//!
//! 1. an account whose external id belongs to an active record (the only
//!    record that carries it) is matched with that record or with none, and
//!    is never a leaver;
//! 2. no account is matched by two records, and no record by two accounts;
//! 3. when the e-mail and the external id point at different accounts and no
//!    rule settles it, the record is [`Identity::HeldBack`], and no account
//!    named in the reason is changed for it or disabled;
//! 4. a login change (or invitation) that needs an address another account
//!    holds comes after that account's own login change
//!    ([`Login::Update::after`], [`Identity::New::after`]); without one (or in
//!    a circle) the login stays, or the newcomer is held back;
//! 5. nothing depends on the order of the records or of TimeCamp's users:
//!    accounts are read by id, records by e-mail.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scim_model::{Status, TimecampUser};

use crate::types::{
    CurrentState, CurrentUser, HoldReason, LoginKept, MatchedBy, PlanWarning, SyncOptions, lower,
    non_empty,
};

/// Who each active record is, and what every other account is to the source.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    /// One per active record with an e-mail, sorted by e-mail.
    pub people: Vec<Person>,
    /// Each account no active record is matched with, by id.
    pub unmatched: BTreeMap<u64, Unmatched>,
    /// External ids that several records of the source carry: evidence for
    /// none of them, and never written.
    pub shared_source_ids: BTreeSet<String>,
    /// What is odd in TimeCamp's or the source's data (shared e-mails and ids).
    pub warnings: Vec<PlanWarning>,
}

impl Identities {
    /// The person whose record has this (lower-cased) e-mail.
    pub fn person(&self, email: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.email == email)
    }

    /// The person matched with this account, if any.
    pub fn owner_of(&self, account: u64) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| matches!(p.identity, Identity::Account { id, .. } if id == account))
    }
}

/// An active record and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The record's e-mail, lower-cased.
    pub email: String,
    /// Index of the record among the prepared users.
    pub record: usize,
    pub identity: Identity,
}

/// Who an active record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// This account, found this way.
    Account {
        id: u64,
        by: MatchedBy,
        login: Login,
    },
    /// Nobody yet: a new account, invited after `after`'s login change when
    /// that frees the address.
    New { after: Option<u64> },
    /// Not certain: nothing is done for this person.
    HeldBack(HoldReason),
}

/// What happens to the login (primary e-mail) of a matched account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Stays: it is the record's e-mail already, or the account was found by
    /// its additional e-mail, or the sync leaves the account alone anyway.
    Same,
    /// Becomes the record's e-mail, after `after`'s own change frees it.
    Update { after: Option<u64> },
    /// Stays although the record has another e-mail.
    Kept(LoginKept),
}

/// What an account no active record matched is to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// Named by these held-back people's cases: left alone.
    HeldBack(Vec<String>),
    /// Carries the external id of this active record: left alone.
    IdOf(String),
    /// Its e-mail or additional e-mail is this active record's: left alone.
    EmailOf(String),
    /// An inactive record has its e-mail, additional e-mail or external id.
    Inactive,
    /// Nothing of the source points at it.
    NotInSource,
}

/// Decides who is who. Pure; see the module's invariants.
pub fn resolve(current: &CurrentState, desired: &[TimecampUser], opts: &SyncOptions) -> Identities {
    let index = Index::new(current, desired, opts);
    let mut people = index.active_people();
    let mut verdicts: Vec<Verdict> = people
        .iter()
        .map(|(email, r)| index.verdict(*r, email))
        .collect();
    index.hold_duplicate_records(&people, &mut verdicts);
    one_record_per_account(&people, &mut verdicts);
    hold_what_held_cases_name(&people, &mut verdicts);
    let logins = index.logins(&people, &verdicts);
    let identities: Vec<Identity> = verdicts
        .into_iter()
        .map(|v| index.identity(v, &people, &logins))
        .collect();
    let people: Vec<Person> = people
        .drain(..)
        .zip(identities)
        .map(|((email, record), identity)| Person {
            email,
            record,
            identity,
        })
        .collect();
    Identities {
        unmatched: index.unmatched(&people),
        shared_source_ids: index.shared_source_ids(),
        warnings: index.warnings(),
        people,
    }
}

/// Strength of a match, for two records that want one account: the e-mail
/// and the id agreeing, then the id alone, the e-mail, the additional e-mail.
const AGREE: u8 = 4;
const BY_ID: u8 = 3;

fn strength(by: MatchedBy) -> u8 {
    match by {
        MatchedBy::ExternalId => BY_ID,
        MatchedBy::Email => 2,
        MatchedBy::AdditionalEmail => 1,
    }
}

/// A record's verdict before the logins are worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Match {
        id: u64,
        by: MatchedBy,
        strength: u8,
    },
    New,
    /// The address is the login of `account`, which is the active record
    /// `owner`'s by external id: new once `owner` moves to their own address.
    NewAfter {
        account: u64,
        owner: usize,
    },
    Hold(HoldReason),
}

/// What the record's external id finds.
enum IdEvidence<'a> {
    /// The record has none, or ids are not used.
    Void,
    /// No account has it.
    Nothing,
    /// One account has it, and only this record in the source.
    One(&'a str, u64),
    /// Several accounts, or several records, have it (the accounts, maybe one).
    Several(&'a str, Vec<u64>),
}

/// Who carries an account's external id in the source.
enum IdOwner {
    NoId,
    /// No record.
    Unknown,
    One(usize),
    Several,
}

/// The accounts and records, indexed for the rules. Every list of account
/// ids is in id order, every list of records in file order but only ever
/// used as a whole, so no result depends on an order.
struct Index<'a> {
    desired: &'a [TimecampUser],
    current: &'a CurrentState,
    opts: &'a SyncOptions,
    users: BTreeMap<u64, &'a CurrentUser>,
    by_login: HashMap<String, Vec<u64>>,
    by_additional: HashMap<String, Vec<u64>>,
    /// Accounts by external id (empty when ids are not used).
    by_id: HashMap<&'a str, Vec<u64>>,
    /// Records (active and inactive) by external id.
    records_by_id: HashMap<&'a str, Vec<usize>>,
    active_emails: BTreeSet<String>,
    inactive_emails: BTreeSet<String>,
}

impl<'a> Index<'a> {
    fn new(current: &'a CurrentState, desired: &'a [TimecampUser], opts: &'a SyncOptions) -> Self {
        let use_ids = !opts.disable_external_id_sync;
        let users: BTreeMap<u64, &CurrentUser> = current.users.iter().map(|u| (u.id, u)).collect();
        let mut by_login: HashMap<String, Vec<u64>> = HashMap::new();
        let mut by_additional: HashMap<String, Vec<u64>> = HashMap::new();
        let mut by_id: HashMap<&str, Vec<u64>> = HashMap::new();
        for (id, u) in &users {
            by_login.entry(lower(&u.email)).or_default().push(*id);
            if let Some(extra) = non_empty(u.additional_email.as_deref()) {
                by_additional.entry(lower(extra)).or_default().push(*id);
            }
            if let Some(ext) = non_empty(u.external_id.as_deref()).filter(|_| use_ids) {
                by_id.entry(ext).or_default().push(*id);
            }
        }
        let mut records_by_id: HashMap<&str, Vec<usize>> = HashMap::new();
        let (mut active_emails, mut inactive_emails) = (BTreeSet::new(), BTreeSet::new());
        for (i, d) in desired.iter().enumerate() {
            if let Some(ext) = non_empty(d.timecamp_external_id.as_deref()).filter(|_| use_ids) {
                records_by_id.entry(ext).or_default().push(i);
            }
            let email = lower(&d.timecamp_email);
            if email.is_empty() {
                continue;
            }
            if d.timecamp_status == Status::Active {
                active_emails.insert(email);
            } else {
                inactive_emails.insert(email);
            }
        }
        Self {
            desired,
            current,
            opts,
            users,
            by_login,
            by_additional,
            by_id,
            records_by_id,
            active_emails,
            inactive_emails,
        }
    }

    /// The active records with an e-mail, as (e-mail, index), by e-mail.
    fn active_people(&self) -> Vec<(String, usize)> {
        let mut people: Vec<(String, usize)> = self
            .desired
            .iter()
            .enumerate()
            .filter(|(_, d)| d.timecamp_status == Status::Active)
            .map(|(i, d)| (lower(&d.timecamp_email), i))
            .filter(|(email, _)| !email.is_empty())
            .collect();
        people.sort();
        people
    }

    fn is_active(&self, record: usize) -> bool {
        self.desired[record].timecamp_status == Status::Active
    }

    fn email_of(&self, record: usize) -> String {
        lower(&self.desired[record].timecamp_email)
    }

    fn record_id(&self, record: usize) -> Option<&'a str> {
        non_empty(self.desired[record].timecamp_external_id.as_deref())
            .filter(|_| !self.opts.disable_external_id_sync)
    }

    fn account_id(&self, account: u64) -> Option<&'a str> {
        non_empty(self.users.get(&account)?.external_id.as_deref())
            .filter(|_| !self.opts.disable_external_id_sync)
    }

    /// The accounts with this login, else with this additional e-mail.
    fn email_hits(&self, email: &str) -> (Vec<u64>, MatchedBy) {
        match self.by_login.get(email) {
            Some(ids) => (ids.clone(), MatchedBy::Email),
            None => (
                self.by_additional.get(email).cloned().unwrap_or_default(),
                MatchedBy::AdditionalEmail,
            ),
        }
    }

    fn id_evidence(&self, record: usize) -> IdEvidence<'a> {
        let Some(id) = self.record_id(record) else {
            return IdEvidence::Void;
        };
        let accounts = self.by_id.get(id).cloned().unwrap_or_default();
        let records = self.records_by_id.get(id).map_or(0, Vec::len);
        match accounts.as_slice() {
            [] => IdEvidence::Nothing,
            [one] if records == 1 => IdEvidence::One(id, *one),
            _ => IdEvidence::Several(id, accounts),
        }
    }

    fn id_owner(&self, account: u64) -> IdOwner {
        let Some(id) = self.account_id(account) else {
            return IdOwner::NoId;
        };
        match self.records_by_id.get(id).map(Vec::as_slice) {
            None | Some([]) => IdOwner::Unknown,
            Some([one]) => IdOwner::One(*one),
            Some(_) => IdOwner::Several,
        }
    }

    /// The rules of docs/matching.md for one record, on its own.
    fn verdict(&self, record: usize, email: &str) -> Verdict {
        let (hits, kind) = self.email_hits(email);
        match self.id_evidence(record) {
            IdEvidence::Several(id, accounts) => {
                let carrying: Vec<u64> = hits
                    .iter()
                    .filter(|h| accounts.contains(h))
                    .copied()
                    .collect();
                match carrying.as_slice() {
                    [a] => Verdict::Match {
                        id: *a,
                        by: kind,
                        strength: AGREE,
                    },
                    _ => {
                        let mut all = accounts;
                        all.extend(&hits);
                        all.sort_unstable();
                        all.dedup();
                        Verdict::Hold(HoldReason::SharedExternalId {
                            external_id: id.to_owned(),
                            accounts: all,
                        })
                    }
                }
            }
            IdEvidence::One(id, b) => {
                if hits.contains(&b) {
                    Verdict::Match {
                        id: b,
                        by: kind,
                        strength: AGREE,
                    }
                } else if hits.is_empty() || self.all_owned_by_others(&hits, record) {
                    // The e-mail, if anywhere, is on accounts that are other
                    // active people's by id: the id decides.
                    Verdict::Match {
                        id: b,
                        by: MatchedBy::ExternalId,
                        strength: BY_ID,
                    }
                } else {
                    Verdict::Hold(HoldReason::EmailAndIdDisagree {
                        email_accounts: hits,
                        id_account: b,
                        external_id: id.to_owned(),
                    })
                }
            }
            IdEvidence::Nothing | IdEvidence::Void => {
                // Accounts that are other active people's by id are theirs:
                // the e-mail decides among the others.
                let free: Vec<u64> = hits
                    .iter()
                    .copied()
                    .filter(|a| !self.all_owned_by_others(&[*a], record))
                    .collect();
                match (free.as_slice(), hits.as_slice()) {
                    (_, []) => Verdict::New,
                    ([a], _) | ([], [a]) => self.email_only(record, *a, kind),
                    _ => Verdict::Hold(HoldReason::SharedEmail { accounts: hits }),
                }
            }
        }
    }

    /// Whether every account of `hits` carries the external id of another
    /// active record (and so is that person's, not this one's).
    fn all_owned_by_others(&self, hits: &[u64], record: usize) -> bool {
        hits.iter().all(
            |a| matches!(self.id_owner(*a), IdOwner::One(o) if o != record && self.is_active(o)),
        )
    }

    /// The e-mail finds one account `a` and the external id none (or the
    /// record has none): `a` unless its own id says it is someone else's.
    fn email_only(&self, record: usize, a: u64, kind: MatchedBy) -> Verdict {
        let by_email = Verdict::Match {
            id: a,
            by: kind,
            strength: strength(kind),
        };
        match self.id_owner(a) {
            IdOwner::NoId => by_email,
            IdOwner::Unknown => {
                let enabled = self.users.get(&a).is_some_and(|u| u.enabled);
                match self.record_id(record) {
                    // A disabled account with a foreign id: a leaver's address reused?
                    Some(source_id) if !enabled => Verdict::Hold(HoldReason::ReusedAddress {
                        account: a,
                        external_id: self.account_id(a).unwrap_or_default().to_owned(),
                        source_id: source_id.to_owned(),
                    }),
                    // The source's ids changed (an enabled account), or the record has none.
                    _ => by_email,
                }
            }
            IdOwner::One(owner) if owner == record => by_email,
            IdOwner::One(owner) if self.is_active(owner) && kind == MatchedBy::Email => {
                Verdict::NewAfter { account: a, owner }
            }
            IdOwner::One(owner) => Verdict::Hold(HoldReason::AddressOfAnother {
                account: a,
                owner: self.email_of(owner),
                owner_active: self.is_active(owner),
            }),
            IdOwner::Several => {
                let id = self.account_id(a).unwrap_or_default();
                Verdict::Hold(HoldReason::SharedExternalId {
                    external_id: id.to_owned(),
                    accounts: self.by_id.get(id).cloned().unwrap_or_default(),
                })
            }
        }
    }

    /// Records sharing an e-mail (a file `validate_input` would refuse) are
    /// all held back, whatever their order.
    fn hold_duplicate_records(&self, people: &[(String, usize)], verdicts: &mut [Verdict]) {
        for i in 0..people.len() {
            let twin = |j: usize| j != i && people.get(j).is_some_and(|p| p.0 == people[i].0);
            if twin(i + 1) || (i > 0 && twin(i - 1)) {
                verdicts[i] = Verdict::Hold(HoldReason::DuplicateRecord);
            }
        }
    }

    /// Each matched account's login: the same, updated (after whom), or kept.
    fn logins(&self, people: &[(String, usize)], verdicts: &[Verdict]) -> BTreeMap<u64, Login> {
        // Accounts found by external id whose login should become the record's e-mail.
        let mut wants: BTreeMap<u64, String> = BTreeMap::new();
        let mut logins = BTreeMap::new();
        for ((email, _), verdict) in people.iter().zip(verdicts) {
            let Verdict::Match { id, by, .. } = verdict else {
                continue;
            };
            let Some(user) = self.users.get(id) else {
                continue;
            };
            // Found by e-mail, or left alone anyway (ignored, hand-made): no change.
            let login = if *by != MatchedBy::ExternalId
                || lower(&user.email) == *email
                || !self.current.changeable(user, self.opts)
            {
                Login::Same
            } else if self.current.is_owner(*id) {
                Login::Kept(LoginKept::Owner)
            } else if !self.opts.update_email_on_external_id {
                Login::Kept(LoginKept::SwitchOff)
            } else {
                wants.insert(*id, email.clone());
                continue;
            };
            logins.insert(*id, login);
        }
        let mut chains = Chains {
            index: self,
            wants: &wants,
            done: BTreeMap::new(),
            visiting: BTreeSet::new(),
        };
        for id in wants.keys() {
            let login = match chains.feasible(*id) {
                Ok(after) => Login::Update { after },
                Err(kept) => Login::Kept(kept),
            };
            logins.insert(*id, login);
        }
        logins
    }

    /// The final identity of the `i`-th person.
    fn identity(
        &self,
        verdict: Verdict,
        people: &[(String, usize)],
        logins: &BTreeMap<u64, Login>,
    ) -> Identity {
        match verdict {
            Verdict::Match { id, by, .. } => Identity::Account {
                id,
                by,
                login: logins.get(&id).copied().unwrap_or(Login::Same),
            },
            Verdict::New => Identity::New { after: None },
            Verdict::NewAfter { account, owner } => {
                // The owner must be matched with that account and be moving
                // to their own address in this run.
                let moving = people.iter().any(|(_, r)| *r == owner)
                    && matches!(logins.get(&account), Some(Login::Update { .. }));
                if moving {
                    Identity::New {
                        after: Some(account),
                    }
                } else {
                    Identity::HeldBack(HoldReason::AddressOfAnother {
                        account,
                        owner: self.email_of(owner),
                        owner_active: true,
                    })
                }
            }
            Verdict::Hold(reason) => Identity::HeldBack(reason),
        }
    }

    /// What each account no active record matched is to the source.
    fn unmatched(&self, people: &[Person]) -> BTreeMap<u64, Unmatched> {
        let mut matched = BTreeSet::new();
        let mut named: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for p in people {
            match &p.identity {
                Identity::Account { id, .. } => {
                    matched.insert(*id);
                }
                Identity::HeldBack(reason) => {
                    for a in reason.accounts() {
                        named.entry(a).or_default().push(p.email.clone());
                    }
                }
                Identity::New { .. } => {}
            }
        }
        self.users
            .iter()
            .filter(|(id, _)| !matched.contains(*id))
            .map(|(id, u)| {
                let fate = if let Some(emails) = named.remove(id) {
                    Unmatched::HeldBack(emails)
                } else if let Some(email) = self.active_id_holder(*id) {
                    Unmatched::IdOf(email)
                } else if let Some(email) = self.active_email_of(u) {
                    Unmatched::EmailOf(email)
                } else if self.known_as_inactive(*id, u) {
                    Unmatched::Inactive
                } else {
                    Unmatched::NotInSource
                };
                (*id, fate)
            })
            .collect()
    }

    /// The first (by e-mail) active record carrying the account's external id.
    fn active_id_holder(&self, account: u64) -> Option<String> {
        let id = self.account_id(account)?;
        self.records_by_id
            .get(id)?
            .iter()
            .filter(|r| self.is_active(**r))
            .map(|r| self.email_of(*r))
            .min()
    }

    fn addresses(u: &CurrentUser) -> impl Iterator<Item = String> {
        std::iter::once(lower(&u.email)).chain(non_empty(u.additional_email.as_deref()).map(lower))
    }

    fn active_email_of(&self, u: &CurrentUser) -> Option<String> {
        Self::addresses(u).find(|e| self.active_emails.contains(e))
    }

    fn known_as_inactive(&self, account: u64, u: &CurrentUser) -> bool {
        Self::addresses(u).any(|e| self.inactive_emails.contains(&e))
            || self
                .account_id(account)
                .is_some_and(|id| self.records_by_id.contains_key(id))
    }

    fn shared_source_ids(&self) -> BTreeSet<String> {
        self.records_by_id
            .iter()
            .filter(|(_, records)| records.len() > 1)
            .map(|(id, _)| (*id).to_owned())
            .collect()
    }

    /// Shared logins, ids on several accounts, ids on several records.
    fn warnings(&self) -> Vec<PlanWarning> {
        let mut out = Vec::new();
        let mut shared_logins: Vec<(&String, &Vec<u64>)> = self
            .by_login
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .collect();
        shared_logins.sort();
        out.extend(
            shared_logins
                .into_iter()
                .map(|(email, ids)| PlanWarning::SharedEmail {
                    email: email.clone(),
                    ids: ids.clone(),
                }),
        );
        let mut shared_ids: Vec<(&&str, &Vec<u64>)> = self
            .by_id
            .iter()
            .filter(|(id, ids)| {
                ids.len() > 1
                    && self
                        .records_by_id
                        .get(**id)
                        .is_some_and(|rs| rs.iter().any(|r| self.is_active(*r)))
            })
            .collect();
        shared_ids.sort();
        out.extend(
            shared_ids
                .into_iter()
                .map(|(id, ids)| PlanWarning::SharedExternalId {
                    external_id: (*id).to_owned(),
                    ids: ids.clone(),
                }),
        );
        let mut in_source: Vec<(&&str, &Vec<usize>)> = self
            .records_by_id
            .iter()
            .filter(|(_, rs)| rs.len() > 1)
            .collect();
        in_source.sort();
        out.extend(in_source.into_iter().map(|(id, records)| {
            let mut emails: Vec<String> = records.iter().map(|r| self.email_of(*r)).collect();
            emails.sort();
            PlanWarning::ExternalIdSharedInSource {
                external_id: (*id).to_owned(),
                emails,
            }
        }));
        out
    }
}

/// Two records that would be matched with one account: the stronger
/// evidence keeps it, the other is held back (both, when equally strong).
fn one_record_per_account(people: &[(String, usize)], verdicts: &mut [Verdict]) {
    let mut claims: BTreeMap<u64, Vec<(u8, usize)>> = BTreeMap::new();
    for (i, v) in verdicts.iter().enumerate() {
        if let Verdict::Match { id, strength, .. } = v {
            claims.entry(*id).or_default().push((*strength, i));
        }
    }
    for (account, mut claimants) in claims.into_iter().filter(|(_, c)| c.len() > 1) {
        claimants.sort_by(|a, b| b.0.cmp(&a.0).then(people[a.1].0.cmp(&people[b.1].0)));
        let winner = (claimants[0].0 > claimants[1].0).then_some(claimants[0].1);
        for (_, i) in &claimants {
            if Some(*i) == winner {
                continue;
            }
            let other = claimants
                .iter()
                .map(|(_, j)| *j)
                .find(|j| j != i)
                .map(|j| people[j].0.clone())
                .unwrap_or_default();
            verdicts[*i] = Verdict::Hold(HoldReason::SameAccount { account, other });
        }
    }
}

/// A match by e-mail alone (no agreeing id) with an account a held-back case
/// names, and a newcomer waiting for such an account, are held back too:
/// the accounts of a held-back case are left alone. Repeated until nothing
/// changes (holds only grow, so it ends).
fn hold_what_held_cases_name(people: &[(String, usize)], verdicts: &mut [Verdict]) {
    loop {
        let mut named: BTreeMap<u64, String> = BTreeMap::new();
        for (i, v) in verdicts.iter().enumerate() {
            // An account another record won, or one already named: not a case of its own.
            if let Verdict::Hold(reason) = v
                && !matches!(
                    reason,
                    HoldReason::SameAccount { .. } | HoldReason::WithHeldBack { .. }
                )
            {
                for a in reason.accounts() {
                    named.entry(a).or_insert_with(|| people[i].0.clone());
                }
            }
        }
        let mut changed = false;
        for v in verdicts.iter_mut() {
            let account = match v {
                Verdict::Match { id, strength, .. } if *strength < BY_ID => *id,
                Verdict::NewAfter { account, .. } => *account,
                _ => continue,
            };
            if let Some(other) = named.get(&account) {
                *v = Verdict::Hold(HoldReason::WithHeldBack {
                    account,
                    other: other.clone(),
                });
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Works out whether each wanted login change can be made, and after which
/// other one: a chain `a -> b, b -> z` is ordered, a circle is not made.
struct Chains<'i, 'a> {
    index: &'i Index<'a>,
    /// Account → the login it should get.
    wants: &'i BTreeMap<u64, String>,
    done: BTreeMap<u64, Result<Option<u64>, LoginKept>>,
    visiting: BTreeSet<u64>,
}

impl Chains<'_, '_> {
    fn feasible(&mut self, account: u64) -> Result<Option<u64>, LoginKept> {
        if let Some(known) = self.done.get(&account) {
            return *known;
        }
        let Some(target) = self.wants.get(&account) else {
            return Err(LoginKept::SwitchOff);
        };
        let holders: Vec<u64> = self
            .index
            .by_login
            .get(target)
            .into_iter()
            .chain(self.index.by_additional.get(target))
            .flatten()
            .copied()
            .filter(|h| *h != account)
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect();
        let result = match holders.as_slice() {
            [] => Ok(None),
            [holder] => {
                let as_login = self
                    .index
                    .by_login
                    .get(target)
                    .is_some_and(|ids| ids.contains(holder));
                if !as_login || !self.wants.contains_key(holder) {
                    Err(LoginKept::Taken { by: *holder })
                } else if self.visiting.contains(holder) {
                    Err(LoginKept::Swap { with: *holder })
                } else {
                    self.visiting.insert(account);
                    let theirs = self.feasible(*holder);
                    self.visiting.remove(&account);
                    match theirs {
                        Ok(_) => Ok(Some(*holder)),
                        // The holder waits for this very account: a circle.
                        Err(LoginKept::Swap { with }) if with == account => {
                            Err(LoginKept::Swap { with: *holder })
                        }
                        Err(_) => Err(LoginKept::Taken { by: *holder }),
                    }
                }
            }
            [first, ..] => Err(LoginKept::Taken { by: *first }),
        };
        self.done.insert(account, result);
        result
    }
}

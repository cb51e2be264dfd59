//! The argument rules of one syscall as libseccomp 2.5 stores them: a
//! decision diagram of 32-bit comparisons built rule by rule.
//!
//! runc hands its rules to libseccomp one at a time, and what a syscall
//! does when several of its conditional rules match depends on how
//! libseccomp merged them: nodes on a level are tried in libseccomp's
//! order (argument, word, operator, value; not the profile's), equal
//! nodes are shared, shorter rules prune longer ones, and some
//! combinations are refused (`EEXIST`). To give every input the verdict
//! runc's filter gives, nook builds the same diagram with the same
//! merge, prune and ordering steps (the differential test in
//! `tests/differential.rs` holds it to libseccomp). Reference counts are
//! kept as libseccomp keeps them, because they decide which nodes a prune
//! frees and which it only unlinks.

use super::rules::{Cmp, Op};

pub(crate) type Id = usize;

/// Normalised node comparisons (NE, LT and LE swap their branches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeOp {
    Eq,
    Gt,
    Ge,
    MaskedEq,
}

/// One 32-bit comparison of the diagram.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) arg: u8,
    /// The high word of the argument (false: the low word).
    pub(crate) hi: bool,
    pub(crate) op: NodeOp,
    op_orig: Op,
    pub(crate) mask: u32,
    pub(crate) datum: u32,
    datum_full: u64,
    /// Action when the comparison holds / fails (flag and value are kept
    /// apart, as libseccomp can set a value without its flag).
    pub(crate) act_t: (bool, u32),
    pub(crate) act_f: (bool, u32),
    pub(crate) nxt_t: Option<Id>,
    pub(crate) nxt_f: Option<Id>,
    pub(crate) lvl_prv: Option<Id>,
    pub(crate) lvl_nxt: Option<Id>,
    refcnt: u32,
    freed: bool,
}

/// Rules libseccomp cannot take.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Conflict {
    /// `-EEXIST`: two rules with the same conditions and different actions.
    Exists,
    /// The merge linked a node into two levels and libseccomp's walk of
    /// them never ends (runc hangs); nook stops and refuses.
    Loops,
}

/// The nodes of every syscall of one arch.
#[derive(Default, Debug)]
pub(crate) struct Arena {
    pub(crate) nodes: Vec<Node>,
    /// Steps a level walk may still take in this rule's merge.
    budget: std::cell::Cell<u64>,
    looped: std::cell::Cell<bool>,
}

// Flags of the prune walk.
const MATCH: u32 = 0x1;
const MATCH_ONCE: u32 = 0x2;
const X_FINISHED: u32 = 0x10;
const N_FINISHED: u32 = 0x20;
const X_PREFIX: u32 = 0x100;
const N_PREFIX: u32 = 0x200;
const MATCHSET: u32 = MATCH | MATCH_ONCE;
const REDUNDANT: u32 = MATCH | X_FINISHED | N_PREFIX;

fn op_priority(op: Op) -> u32 {
    match op {
        Op::MaskedEq | Op::Eq | Op::Ne => 3,
        Op::Le | Op::Lt => 2,
        Op::Ge | Op::Gt => 1,
    }
}

impl Arena {
    fn n(&self, id: Id) -> &Node {
        &self.nodes[id]
    }
    fn m(&mut self, id: Id) -> &mut Node {
        &mut self.nodes[id]
    }

    fn new_node(&mut self, cmp: &Cmp, hi: bool, op: NodeOp) -> Id {
        let (mask, datum) =
            if hi { ((cmp.mask >> 32) as u32, (cmp.datum >> 32) as u32) } else { (cmp.mask as u32, cmp.datum as u32) };
        self.nodes.push(Node {
            arg: cmp.index,
            hi,
            op,
            op_orig: cmp.op,
            mask,
            datum: datum & mask,
            datum_full: cmp.datum,
            act_t: (false, 0),
            act_f: (false, 0),
            nxt_t: None,
            nxt_f: None,
            lvl_prv: None,
            lvl_nxt: None,
            refcnt: 0,
            freed: false,
        });
        self.nodes.len() - 1
    }

    fn get(&mut self, id: Option<Id>) -> Option<Id> {
        if let Some(i) = id {
            self.m(i).refcnt += 1;
        }
        id
    }

    /// The chain of one rule (conditions sorted by argument, at most one
    /// per argument); `None` for an unconditional rule.
    pub(crate) fn chain(&mut self, conds: &[Cmp], action: u32, wide: bool) -> Option<Id> {
        if wide {
            self.chain_64(conds, action)
        } else {
            self.chain_32(conds, action)
        }
    }

    fn chain_64(&mut self, conds: &[Cmp], action: u32) -> Option<Id> {
        let mut head = None;
        let mut prev: Option<([Id; 2], Option<Id>, Op)> = None;
        for c in conds {
            // A mask that clears a whole word makes that word's test a tautology.
            if c.op == Op::MaskedEq && c.mask == 0 {
                continue;
            }
            let (ids, third) = match c.op {
                Op::Gt | Op::Ge | Op::Le | Op::Lt => {
                    let lo_op = if matches!(c.op, Op::Gt | Op::Le) { NodeOp::Gt } else { NodeOp::Ge };
                    let (a, b, d) = (
                        self.new_node(c, true, NodeOp::Gt),
                        self.new_node(c, true, NodeOp::Eq),
                        self.new_node(c, false, lo_op),
                    );
                    self.m(a).nxt_f = self.get(Some(b));
                    self.m(b).nxt_t = self.get(Some(d));
                    ([a, b], Some(d))
                }
                Op::Eq | Op::Ne | Op::MaskedEq => {
                    let op = if c.op == Op::MaskedEq { NodeOp::MaskedEq } else { NodeOp::Eq };
                    let (a, b) = (self.new_node(c, true, op), self.new_node(c, false, op));
                    self.m(a).nxt_t = self.get(Some(b));
                    ([a, b], None)
                }
            };
            match prev {
                None => head = self.get(Some(ids[0])),
                Some((p, p2, op)) => match op {
                    Op::Gt | Op::Ge => {
                        self.m(p[0]).nxt_t = self.get(Some(ids[0]));
                        self.m(p2.unwrap()).nxt_t = self.get(Some(ids[0]));
                    }
                    Op::Eq | Op::MaskedEq => self.m(p[1]).nxt_t = self.get(Some(ids[0])),
                    Op::Le | Op::Lt => {
                        self.m(p[1]).nxt_f = self.get(Some(ids[0]));
                        self.m(p2.unwrap()).nxt_f = self.get(Some(ids[0]));
                    }
                    Op::Ne => {
                        self.m(p[0]).nxt_f = self.get(Some(ids[0]));
                        self.m(p[1]).nxt_f = self.get(Some(ids[0]));
                    }
                },
            }
            prev = Some((ids, third, c.op));
        }
        let (p, p2, op) = prev?;
        let act = (true, action);
        match op {
            Op::Gt | Op::Ge => {
                self.m(p[0]).act_t = act;
                self.m(p2.unwrap()).act_t = act;
            }
            Op::Le | Op::Lt => {
                self.m(p[1]).act_f = act;
                self.m(p2.unwrap()).act_f = act;
            }
            Op::Eq | Op::MaskedEq => self.m(p[1]).act_t = act,
            Op::Ne => {
                self.m(p[0]).act_f = act;
                self.m(p[1]).act_f = act;
            }
        }
        head
    }

    fn chain_32(&mut self, conds: &[Cmp], action: u32) -> Option<Id> {
        let (mut head, mut prev): (Option<Id>, Option<(Id, bool)>) = (None, None);
        for c in conds {
            if c.op == Op::MaskedEq && c.mask as u32 == 0 {
                continue;
            }
            let (op, on_true) = match c.op {
                Op::Ne => (NodeOp::Eq, false),
                Op::Lt => (NodeOp::Ge, false),
                Op::Le => (NodeOp::Gt, false),
                Op::Eq => (NodeOp::Eq, true),
                Op::Ge => (NodeOp::Ge, true),
                Op::Gt => (NodeOp::Gt, true),
                Op::MaskedEq => (NodeOp::MaskedEq, true),
            };
            let id = self.new_node(c, false, op);
            match prev {
                None => head = self.get(Some(id)),
                Some((p, true)) => self.m(p).nxt_t = self.get(Some(id)),
                Some((p, false)) => self.m(p).nxt_f = self.get(Some(id)),
            }
            prev = Some((id, on_true));
        }
        let (p, on_true) = prev?;
        if on_true {
            self.m(p).act_t = (true, action);
        } else {
            self.m(p).act_f = (true, action);
        }
        head
    }

    /// Takes one step of a level walk; false once the merge has walked
    /// far more than any diagram of this size needs (a cycle).
    pub(crate) fn step(&self) -> bool {
        match self.budget.get() {
            0 => {
                self.looped.set(true);
                false
            }
            b => {
                self.budget.set(b - 1);
                true
            }
        }
    }

    /// The first node of the level of `id`.
    pub(crate) fn level_start(&self, mut id: Id) -> Id {
        while let Some(p) = self.n(id).lvl_prv {
            if !self.step() {
                break;
            }
            id = p;
        }
        id
    }

    fn arg_priority(&self, id: Id) -> u32 {
        let n = self.n(id);
        (u32::from(n.arg) << 1) + u32::from(n.hi)
    }

    fn lt(&self, a: Id, b: Id) -> bool {
        let (pa, pb) = (self.arg_priority(a), self.arg_priority(b));
        if pa != pb {
            return pa < pb;
        }
        let (oa, ob) = (op_priority(self.n(a).op_orig), op_priority(self.n(b).op_orig));
        if oa != ob {
            return oa < ob;
        }
        match self.n(a).op_orig {
            Op::Le | Op::Lt => self.n(a).datum > self.n(b).datum,
            _ => self.n(a).datum < self.n(b).datum,
        }
    }

    fn eq(&self, a: Id, b: Id) -> bool {
        let (x, y) = (self.n(a), self.n(b));
        self.arg_priority(a) == self.arg_priority(b) && x.op == y.op && x.datum == y.datum && x.mask == y.mask
    }

    fn leaf(&self, id: Id) -> bool {
        self.n(id).nxt_t.is_none() && self.n(id).nxt_f.is_none()
    }

    fn zombie(&self, id: Id) -> bool {
        self.leaf(id) && !self.n(id).act_t.0 && !self.n(id).act_f.0
    }
}

#[path = "tree_ops.rs"]
mod ops;
#[path = "tree_prune.rs"]
mod prune;
pub(crate) use ops::Entry;

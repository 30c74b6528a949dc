//! A unified diff of two texts by line (longest common subsequence), for
//! configuration files: small, so the quadratic table is fine; past
//! [`MAX_CELLS`] the whole text is shown replaced rather than compared.

/// The largest lines × lines table computed.
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Keep,
    Del,
    Add,
}

/// The lines of a unified diff of `old` → `new` with `context` lines
/// around each change (`@@ -a,n +b,m @@` hunks, ` `/`-`/`+` lines); empty
/// when the texts are the same.
pub fn unified_diff(old: &str, new: &str, context: usize) -> Vec<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let ops = script(&a, &b);
    if ops.iter().all(|o| *o == Op::Keep) {
        return Vec::new();
    }
    // Each op with its line numbers in both texts (0-based, before the op).
    let mut at = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0, 0);
    for op in &ops {
        at.push((i, j));
        match op {
            Op::Keep => (i, j) = (i + 1, j + 1),
            Op::Del => i += 1,
            Op::Add => j += 1,
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|k| ops[*k] != Op::Keep).collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(context);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * context + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + context + 1).min(ops.len());
        hunk(&mut out, &ops[start..end], at[start], &a, &b);
    }
    out
}

fn hunk(out: &mut Vec<String>, ops: &[Op], (i0, j0): (usize, usize), a: &[&str], b: &[&str]) {
    let dels = ops.iter().filter(|o| **o != Op::Add).count();
    let adds = ops.iter().filter(|o| **o != Op::Del).count();
    out.push(format!("@@ -{},{dels} +{},{adds} @@", i0 + 1, j0 + 1));
    let (mut i, mut j) = (i0, j0);
    for op in ops {
        match op {
            Op::Keep => {
                out.push(format!(" {}", a[i]));
                (i, j) = (i + 1, j + 1);
            }
            Op::Del => {
                out.push(format!("-{}", a[i]));
                i += 1;
            }
            Op::Add => {
                out.push(format!("+{}", b[j]));
                j += 1;
            }
        }
    }
}

/// The edit script: an LCS table walked from the start.
fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_CELLS {
        let mut ops = vec![Op::Del; n];
        ops.extend(std::iter::repeat_n(Op::Add, m));
        return ops;
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let idx = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[idx(i, j)] = if a[i] == b[j] {
                lcs[idx(i + 1, j + 1)] + 1
            } else {
                lcs[idx(i + 1, j)].max(lcs[idx(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut ops) = (0, 0, Vec::with_capacity(n + m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Keep);
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[idx(i + 1, j)] >= lcs[idx(i, j + 1)]) {
            // Deletions first, as diff(1) prints them.
            ops.push(Op::Del);
            i += 1;
        } else {
            ops.push(Op::Add);
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_one_hunk_with_its_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified_diff(old, new, 2),
            ["@@ -3,5 +3,5 @@", " c", " d", "-e", "+E", " f", " g"]
        );
    }

    #[test]
    fn distant_changes_are_separate_hunks_and_same_texts_none() {
        let old: String = (0..20).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l1\n", "l1x\n").replace("l18\n", "");
        let diff = unified_diff(&old, &new, 1);
        let hunks: Vec<&String> = diff.iter().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(hunks, ["@@ -1,3 +1,3 @@", "@@ -18,3 +18,2 @@"], "{diff:#?}");
        assert!(diff.contains(&"-l18".to_owned()) && diff.contains(&"+l1x".to_owned()));
        assert!(unified_diff(&old, &old, 3).is_empty());
        assert_eq!(unified_diff("", "x\n", 3), ["@@ -1,0 +1,1 @@", "+x"]);
    }
}

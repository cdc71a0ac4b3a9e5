package core

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Master-key rotation. Every node knows one or more master keys (its own,
// master_key_file, and previous_master_key_files); the database says which
// one is active (KeyringState), so all nodes seal and hash under the same
// key and switch together. Each sealed value and keyed hash carries the id
// of the key it was made under:
//
//   - sealed values are re-sealed under the new key by RotateMasterKey;
//   - keyed hashes cannot be recomputed without the secret: they keep
//     verifying under their key id and move to the active key on their
//     next successful use (Credentials.rehash, Tokens.Find);
//   - MasterKeyStatus counts what still needs each key, and
//     RetireMasterKey refuses to retire a key anything still needs. A
//     retired key opens and verifies nothing, even where still configured.

// Documents of the keyring in the "system" collection.
const (
	keyringStateID = "keyring"
	// keyringCheckID names the check value written before key ids existed
	// (a keyed hash of a constant under the database's original key).
	keyringCheckID = "keyring-check"
	// collKeyringNodes holds one record per running node: the key ids it
	// knows, so a rotation refuses a key some node lacks.
	collKeyringNodes = "system.keyring-nodes"
)

// KeyringState is the database's view of the master keys.
type KeyringState struct {
	// Active is the key every node seals and hashes under.
	Active string `json:"active"`
	// Original is the key the database was created with: values stored
	// without a key id were made under it.
	Original string `json:"original"`
	// Retired keys open and verify nothing.
	Retired     []string  `json:"retired,omitempty"`
	ActivatedAt time.Time `json:"activated_at"`
}

func (s Services) loadKeyringState(ctx context.Context) (KeyringState, Document, error) {
	var st KeyringState
	d, err := s.Store.GetDocument(ctx, "system", keyringStateID)
	if err != nil {
		return st, d, err
	}
	if err := json.Unmarshal(d.Data, &st); err != nil || st.Active == "" {
		return st, d, E(KindInternal, "unreadable keyring state")
	}
	return st, d, nil
}

// CheckKeyring makes this node's keyring follow the database's: it refuses
// to start a node that does not know the database's active master key
// (every stored secret would be unverifiable and every sealed secret
// unreadable). The first start on a database records its original key:
// the node's own, or, on a database made before key ids existed, the
// configured key that matches its check value.
func (s Services) CheckKeyring(ctx context.Context) error {
	for attempt := 0; attempt < 3; attempt++ {
		st, _, err := s.loadKeyringState(ctx)
		if err == nil {
			if err := s.Keys.apply(st); err != nil {
				return err
			}
			s.noteKeyring(st)
			return nil
		}
		if KindOf(err) != KindNotFound {
			return err
		}
		orig, err := s.originalKey(ctx)
		if err != nil {
			return err
		}
		st = KeyringState{Active: orig, Original: orig, ActivatedAt: s.Clock.Now().UTC()}
		data, err := json.Marshal(st)
		if err != nil {
			return err
		}
		err = s.Store.PutDocument(ctx, Document{Collection: "system", ID: keyringStateID, OrgID: SystemOrgID, Data: data, CreatedAt: s.Clock.Now()})
		if KindOf(err) == KindConflict {
			continue // another node recorded it first: follow it
		}
		if err != nil {
			return err
		}
		return s.Keys.apply(st)
	}
	return E(KindUnavailable, "could not settle the keyring state")
}

// originalKey finds the key a database was created with from its check
// value, writing one (under the node's own key) on a new database.
func (s Services) originalKey(ctx context.Context) (string, error) {
	d, err := s.Store.GetDocument(ctx, "system", keyringCheckID)
	if KindOf(err) == KindNotFound {
		own := s.Keys.PrimaryKeyID()
		want, _ := s.Keys.HashUnder(own, "keyring-check", "authgate")
		data, err := json.Marshal(map[string][]byte{"check": want})
		if err != nil {
			return "", err
		}
		err = s.Store.PutDocument(ctx, Document{Collection: "system", ID: keyringCheckID, Data: data, CreatedAt: s.Clock.Now()})
		if err == nil {
			return own, nil
		}
		if KindOf(err) != KindConflict {
			return "", err
		}
		d, err = s.Store.GetDocument(ctx, "system", keyringCheckID)
	}
	if err != nil {
		return "", err
	}
	var got struct{ Check []byte }
	if err := json.Unmarshal(d.Data, &got); err != nil {
		return "", Wrap(KindInternal, "unreadable keyring check", err)
	}
	for _, id := range s.Keys.KeyIDs() {
		if h, ok := s.Keys.HashUnder(id, "keyring-check", "authgate"); ok && ConstantTimeEqual(got.Check, h) {
			return id, nil
		}
	}
	return "", E(KindInvalidInput, "the master key differs from the one this database was created with; every node must use the same master key (AUTHGATE_MASTER_KEY or --master-key-file)")
}

// noteKeyring tells the operator what the configuration implies.
func (s Services) noteKeyring(st KeyringState) {
	if s.Log == nil {
		return
	}
	own := s.Keys.PrimaryKeyID()
	for _, id := range s.Keys.KeyIDs() {
		if slices.Contains(st.Retired, id) {
			s.Log.Warn("a configured master key is retired and opens nothing: remove its file from the configuration", slog.String("key_id", id))
		}
	}
	if own != st.Active && !slices.Contains(st.Retired, own) {
		s.Log.Info("master_key_file's key is not the active master key yet: run `authgate admin rotate-master-key` once every node knows it",
			slog.String("key_id", own), slog.String("active_key_id", st.Active))
	}
}

// KeyringNode is what a running node publishes about its keyring.
type KeyringNode struct {
	Node   string    `json:"node"`
	Keys   []string  `json:"keys"`
	Active string    `json:"active"`
	Seen   time.Time `json:"seen"`
}

// WatchKeyring follows the database's keyring state every interval (a
// rotation run from any node switches this one within an interval) and
// publishes the key ids this node knows under node, until ctx ends.
func (s Services) WatchKeyring(ctx context.Context, node string, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.publishKeyringNode(ctx, node); err != nil && ctx.Err() == nil {
			s.Log.Warn("keyring: could not publish this node's keys", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			_ = s.Store.DeleteDocument(context.WithoutCancel(ctx), collKeyringNodes, node)
			return nil
		case <-t.C:
		}
		if err := s.RefreshKeyring(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("keyring: cannot follow the database's master keys", slog.Any("err", err))
		}
	}
}

// RefreshKeyring applies the database's keyring state now.
func (s Services) RefreshKeyring(ctx context.Context) error {
	st, _, err := s.loadKeyringState(ctx)
	if err != nil {
		return err
	}
	before := s.Keys.ActiveKeyID()
	if err := s.Keys.apply(st); err != nil {
		return err
	}
	if before != st.Active && s.Log != nil {
		s.Log.Info("keyring: active master key changed", slog.String("key_id", st.Active), slog.String("previous_key_id", before))
	}
	return nil
}

func (s Services) publishKeyringNode(ctx context.Context, node string) error {
	data, err := json.Marshal(KeyringNode{Node: node, Keys: s.Keys.KeyIDs(), Active: s.Keys.ActiveKeyID(), Seen: s.Clock.Now().UTC()})
	if err != nil {
		return err
	}
	d := Document{Collection: collKeyringNodes, ID: node, OrgID: SystemOrgID, Data: data, CreatedAt: s.Clock.Now()}
	for attempt := 0; attempt < 3; attempt++ {
		old, err := s.Store.GetDocument(ctx, collKeyringNodes, node)
		switch {
		case KindOf(err) == KindNotFound:
			err = s.Store.PutDocument(ctx, d)
		case err == nil:
			old.Data = data
			_, err = s.Store.UpdateDocument(ctx, old)
		}
		if KindOf(err) != KindConflict {
			return err
		}
	}
	return nil
}

// liveNodes lists the nodes that published their keyring within maxAge.
func (s Services) liveNodes(ctx context.Context, maxAge time.Duration) ([]KeyringNode, error) {
	docs, _, err := s.Store.ListDocuments(ctx, collKeyringNodes, "", Page{Limit: 1000})
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	var out []KeyringNode
	for _, d := range docs {
		var n KeyringNode
		if json.Unmarshal(d.Data, &n) != nil {
			continue
		}
		if now.Sub(n.Seen) <= maxAge {
			out = append(out, n)
		}
	}
	return out, nil
}

// SealedSet is a set of values sealed under the master key that a
// component keeps in its own documents (CA keys, ID-token signing keys).
type SealedSet interface {
	// Name names the set in reports.
	Name() string
	// CountSealed counts the set's values per master key id (SealedKeyID:
	// "" for values sealed before key ids existed).
	CountSealed(ctx context.Context) (map[string]int, error)
	// Reseal seals every value not under the active key again under it
	// and returns how many it changed.
	Reseal(ctx context.Context) (int, error)
}

// RotateOptions tune RotateMasterKey.
type RotateOptions struct {
	// To is the key to make active: the node's own master key when "".
	To string
	// Settle is how long to wait after switching, so every node has
	// followed (WatchKeyring's interval, twice) before re-sealing.
	Settle time.Duration
	// NodeMaxAge: nodes that published their keyring within it must know
	// To (0: 3 × Settle).
	NodeMaxAge time.Duration
	// Sets are the sealed values kept outside the credentials table.
	Sets []SealedSet
}

// RotateResult reports a rotation.
type RotateResult struct {
	Active              string         `json:"active_key_id"`
	Previous            string         `json:"previous_key_id"`
	ResealedCredentials int            `json:"resealed_credentials"`
	Resealed            map[string]int `json:"resealed"`
	Status              KeyStatus      `json:"status"`
}

// RotateMasterKey makes opt.To the active master key of the database and
// re-seals every sealed value under it, while nodes keep serving: values
// under the previous key keep opening and verifying until the key is
// retired. It refuses a key some live node does not know, and a retired
// key. Run it with the store's rotation lock held (one rotation at a time);
// it is idempotent, so an interrupted run is finished by running it again.
func (s Services) RotateMasterKey(ctx context.Context, opt RotateOptions) (RotateResult, error) {
	to := opt.To
	if to == "" {
		to = s.Keys.PrimaryKeyID()
	}
	if !s.Keys.Has(to) {
		return RotateResult{}, E(KindInvalidInput, "master key "+to+" is not in this node's keyring")
	}
	st, d, err := s.loadKeyringState(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	if slices.Contains(st.Retired, to) {
		return RotateResult{}, E(KindInvalidInput, "master key "+to+" was retired: generate a new master key to rotate to")
	}
	res := RotateResult{Active: to, Previous: st.Active, Resealed: map[string]int{}}
	if st.Active != to {
		maxAge := opt.NodeMaxAge
		if maxAge == 0 {
			maxAge = 3 * opt.Settle
		}
		nodes, err := s.liveNodes(ctx, maxAge)
		if err != nil {
			return RotateResult{}, err
		}
		var lacking []string
		for _, n := range nodes {
			if !slices.Contains(n.Keys, to) {
				lacking = append(lacking, n.Node)
			}
		}
		if len(lacking) > 0 {
			return RotateResult{}, E(KindConflict, fmt.Sprintf("running nodes %s do not know master key %s: add it to their previous_master_key_files (or master_key_file) and restart them first", strings.Join(lacking, ", "), to))
		}
		st.Active, st.ActivatedAt = to, s.Clock.Now().UTC()
		if d.Data, err = json.Marshal(st); err != nil {
			return RotateResult{}, err
		}
		if _, err := s.Store.UpdateDocument(ctx, d); err != nil {
			if KindOf(err) == KindConflict {
				return RotateResult{}, E(KindConflict, "the keyring changed while rotating (another rotation?): run the command again")
			}
			return RotateResult{}, err
		}
		if err := s.Keys.apply(st); err != nil {
			return RotateResult{}, err
		}
		if err := s.Audit.Record(ctx, AuditEvent{Action: "rotate", Protocol: "admin", OrgID: SystemOrgID,
			Subject: "master key " + to, Reason: "active master key was " + res.Previous}); err != nil {
			return RotateResult{}, err
		}
		// Nodes seal under the previous key until they follow: wait for
		// them, so what they sealed meanwhile is re-sealed below.
		if opt.Settle > 0 {
			select {
			case <-ctx.Done():
				return RotateResult{}, ctx.Err()
			case <-time.After(opt.Settle):
			}
		}
	}
	after := ""
	for {
		page, err := s.Store.ListSealedCredentials(ctx, to, after, 200)
		if err != nil {
			return res, err
		}
		for _, c := range page {
			changed, err := s.Credentials.Reseal(ctx, c)
			if err != nil {
				return res, fmt.Errorf("re-seal credential %s: %w", c.ID, err)
			}
			if changed {
				res.ResealedCredentials++
			}
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].ID
	}
	for _, set := range opt.Sets {
		n, err := set.Reseal(ctx)
		if err != nil {
			return res, fmt.Errorf("re-seal %s: %w", set.Name(), err)
		}
		res.Resealed[set.Name()] = n
	}
	res.Status, err = s.MasterKeyStatus(ctx, opt.Sets)
	return res, err
}

// KeyStatus reports which master keys stored values need.
type KeyStatus struct {
	Active   string   `json:"active_key_id"`
	Original string   `json:"original_key_id"`
	Retired  []string `json:"retired_key_ids"`
	// Known are the keys of the node that asked, its own first.
	Known []string    `json:"known_key_ids"`
	Keys  []KeyReport `json:"keys"`
	// NeedPrevious counts values under keys other than the active one.
	NeedPrevious int `json:"need_previous_keys"`
}

// KeyReport is what one master key is still needed for.
type KeyReport struct {
	KeyUse
	Sealed map[string]int `json:"sealed"` // per SealedSet
	Total  int            `json:"total"`
}

// MasterKeyStatus counts, per master key, the stored values that need it.
// Values stored without a key id count under the original key.
func (s Services) MasterKeyStatus(ctx context.Context, sets []SealedSet) (KeyStatus, error) {
	st, _, err := s.loadKeyringState(ctx)
	if err != nil {
		return KeyStatus{}, err
	}
	out := KeyStatus{Active: st.Active, Original: st.Original, Retired: append([]string{}, st.Retired...), Known: s.Keys.KeyIDs()}
	byID := map[string]*KeyReport{}
	get := func(id string) *KeyReport {
		if id == "" {
			id = st.Original
		}
		r, ok := byID[id]
		if !ok {
			r = &KeyReport{KeyUse: KeyUse{KeyID: id}, Sealed: map[string]int{}}
			byID[id] = r
		}
		return r
	}
	get(st.Active)
	uses, err := s.Store.CountKeyUse(ctx, s.Clock.Now())
	if err != nil {
		return KeyStatus{}, err
	}
	for _, u := range uses {
		r := get(u.KeyID)
		r.SealedCredentials += u.SealedCredentials
		r.HashedCredentials += u.HashedCredentials
		r.Tokens += u.Tokens
		r.Total += u.SealedCredentials + u.HashedCredentials + u.Tokens
	}
	for _, set := range sets {
		counts, err := set.CountSealed(ctx)
		if err != nil {
			return KeyStatus{}, fmt.Errorf("%s: %w", set.Name(), err)
		}
		for id, n := range counts {
			r := get(id)
			r.Sealed[set.Name()] += n
			r.Total += n
		}
	}
	for _, r := range byID {
		out.Keys = append(out.Keys, *r)
		if r.KeyID != st.Active {
			out.NeedPrevious += r.Total
		}
	}
	slices.SortFunc(out.Keys, func(a, b KeyReport) int {
		if (a.KeyID == st.Active) != (b.KeyID == st.Active) {
			if a.KeyID == st.Active {
				return -1
			}
			return 1
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return out, nil
}

// RetireMasterKey retires a master key nothing needs any more: from then
// on it opens and verifies nothing on any node, and may be removed from
// every node's configuration. It refuses the active key and a key that
// stored values still need (see MasterKeyStatus). settle (the nodes' read
// cache bound) is waited between a first count of zero and the second
// one that decides, so no node still holds a cached credential from
// before its move.
func (s Services) RetireMasterKey(ctx context.Context, id string, sets []SealedSet, settle time.Duration) (KeyStatus, error) {
	status, err := s.retirable(ctx, id, sets)
	if err != nil || settle <= 0 || slices.Contains(status.Retired, id) {
		return s.retire(ctx, id, sets, status, err)
	}
	select {
	case <-ctx.Done():
		return status, ctx.Err()
	case <-time.After(settle):
	}
	status, err = s.retirable(ctx, id, sets)
	return s.retire(ctx, id, sets, status, err)
}

// retirable checks that nothing needs the key.
func (s Services) retirable(ctx context.Context, id string, sets []SealedSet) (KeyStatus, error) {
	status, err := s.MasterKeyStatus(ctx, sets)
	if err != nil {
		return status, err
	}
	if id == status.Active {
		return status, E(KindConflict, "master key "+id+" is the active key: rotate to a new key first")
	}
	for _, r := range status.Keys {
		if r.KeyID == id && r.Total > 0 && !slices.Contains(status.Retired, id) {
			return status, E(KindConflict, fmt.Sprintf("master key %s is still needed by %d values (sealed credentials %d, credential hashes %d, tokens %d, other sealed %d): run `authgate admin rotate-master-key` to re-seal; hashes move on their next use (or revoke them)",
				id, r.Total, r.SealedCredentials, r.HashedCredentials, r.Tokens, r.Total-r.SealedCredentials-r.HashedCredentials-r.Tokens))
		}
	}
	return status, nil
}

// retire records the retirement once retirable said yes.
func (s Services) retire(ctx context.Context, id string, sets []SealedSet, status KeyStatus, err error) (KeyStatus, error) {
	if err != nil || slices.Contains(status.Retired, id) {
		return status, err
	}
	st, d, err := s.loadKeyringState(ctx)
	if err != nil {
		return status, err
	}
	if st.Active == id {
		return status, E(KindConflict, "master key "+id+" is the active key: rotate to a new key first")
	}
	st.Retired = append(st.Retired, id)
	if d.Data, err = json.Marshal(st); err != nil {
		return status, err
	}
	if _, err := s.Store.UpdateDocument(ctx, d); err != nil {
		if KindOf(err) == KindConflict {
			return status, E(KindConflict, "the keyring changed meanwhile: run the command again")
		}
		return status, err
	}
	if err := s.Keys.apply(st); err != nil {
		return status, err
	}
	if err := s.Audit.Record(ctx, AuditEvent{Action: "retire", Protocol: "admin", OrgID: SystemOrgID, Subject: "master key " + id}); err != nil {
		return status, err
	}
	return s.MasterKeyStatus(ctx, sets)
}

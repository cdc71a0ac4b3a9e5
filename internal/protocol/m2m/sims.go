package m2m

import (
	"context"
	"encoding/json"
	"regexp"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/sdk/m2m"
)

// SIM is the CollectionSIMs document of one SIM card in one environment.
type SIM struct {
	ICCID        string    `json:"iccid"`
	Env          string    `json:"env"`
	Partner      string    `json:"partner"`
	State        string    `json:"state"`
	NetworkState string    `json:"network_state"`
	Tariff       string    `json:"tariff"`
	PeriodStart  time.Time `json:"period_start"`
	DataVolume   int64     `json:"data_volume"`
	SMSCount     int64     `json:"sms_count"`
	VoiceSeconds int64     `json:"voice_seconds"`
	LastChange   time.Time `json:"last_change"`
}

func simID(env, iccid string) string { return env + ":" + iccid }

var (
	iccidRE  = regexp.MustCompile(`^89[0-9]{17,18}$`)
	tariffRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// ValidICCID reports whether s is a 19 or 20 digit ICCID of the telecom
// industry (major industry identifier 89).
func ValidICCID(s string) bool { return iccidRE.MatchString(s) }

// transition says what an M2MAdm operation does to a SIM in state from:
// the new state and network state, or ok=false if it is not allowed.
func transition(op, from string) (state, network string, ok bool) {
	switch op {
	case m2m.OpSIMActivation:
		if from == m2m.StateShipped || from == m2m.StateDeactivated {
			return m2m.StateActive, m2m.NetworkRegistered, true
		}
	case m2m.OpSIMDeactivation:
		if from == m2m.StateActive || from == m2m.StateSuspended {
			return m2m.StateDeactivated, m2m.NetworkDeregistered, true
		}
	case m2m.OpSIMSuspend:
		if from == m2m.StateActive {
			return m2m.StateSuspended, m2m.NetworkBarred, true
		}
	case m2m.OpSIMResume:
		if from == m2m.StateSuspended {
			return m2m.StateActive, m2m.NetworkRegistered, true
		}
	case m2m.OpSIMTariffChange:
		if from != m2m.StateDeactivated {
			return from, "", true
		}
	}
	return "", "", false
}

// AddSIM provisions a shipped SIM for a partner in one environment.
func AddSIM(ctx context.Context, d Deps, env, partnerName, iccid, tariff string) (SIM, error) {
	if env != EnvTA && env != EnvPE {
		return SIM{}, core.E(core.KindInvalidInput, "environment must be TA or PE")
	}
	if !ValidICCID(iccid) {
		return SIM{}, core.E(core.KindInvalidInput, "ICCID must be 19 or 20 digits starting with 89")
	}
	if tariff == "" {
		tariff = "M2M_BASIC"
	}
	if !tariffRE.MatchString(tariff) {
		return SIM{}, core.E(core.KindInvalidInput, "tariff must be 1 to 64 letters, digits, '_', '.' or '-'")
	}
	rec, err := ensurePartner(ctx, d, partnerName)
	if err != nil {
		return SIM{}, err
	}
	now := d.Clock.Now().UTC()
	s := SIM{ICCID: iccid, Env: env, Partner: partnerName, State: m2m.StateShipped, NetworkState: m2m.NetworkNone,
		Tariff: tariff, PeriodStart: now, LastChange: now}
	data, _ := json.Marshal(s)
	err = d.Docs.PutDocument(ctx, core.Document{Collection: CollectionSIMs, ID: simID(env, iccid), OrgID: rec.OrgID, Data: data, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return SIM{}, err
	}
	return s, d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: rec.OrgID, Subject: iccid, Reason: "SIM provisioned in " + env})
}

// RecordUsage adds usage to a SIM (the network side of the demo platform).
func RecordUsage(ctx context.Context, d Deps, env, iccid string, data, sms, voice int64) (SIM, error) {
	var out SIM
	err := updateSIM(ctx, d, env, iccid, func(s *SIM) error {
		s.DataVolume += data
		s.SMSCount += sms
		s.VoiceSeconds += voice
		out = *s
		return nil
	})
	return out, err
}

// loadSIM reads a SIM; KindNotFound if it does not exist.
func loadSIM(ctx context.Context, d Deps, env, iccid string) (SIM, core.Document, error) {
	doc, err := d.Docs.GetDocument(ctx, CollectionSIMs, simID(env, iccid))
	if err != nil {
		return SIM{}, doc, err
	}
	var s SIM
	if err := json.Unmarshal(doc.Data, &s); err != nil {
		return SIM{}, doc, core.Wrap(core.KindInternal, "", err)
	}
	return s, doc, nil
}

// updateSIM applies fn under optimistic concurrency, retrying on conflicts.
func updateSIM(ctx context.Context, d Deps, env, iccid string, fn func(*SIM) error) error {
	for attempt := 0; ; attempt++ {
		s, doc, err := loadSIM(ctx, d, env, iccid)
		if err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		doc.Data, _ = json.Marshal(s)
		doc.UpdatedAt = d.Clock.Now()
		if _, err = d.Docs.UpdateDocument(ctx, doc); err == nil || core.KindOf(err) != core.KindConflict || attempt >= 5 {
			return err
		}
	}
}

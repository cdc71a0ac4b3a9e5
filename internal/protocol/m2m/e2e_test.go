package m2m_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/protocol/m2m"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestScenarioA_SIMUsageGet is chapter 7 scenario (a): the partner's M2MMon
// client sends SIMUsageGet and immediately receives a signed
// SIMUsageResponse, over HTTPS.
func TestScenarioA_SIMUsageGet(t *testing.T) {
	w := newWorld(t, worldOptions{})
	got, err := w.client.SIMUsageGet(context.Background(), iccid)
	if err != nil {
		t.Fatal(err)
	}
	if got.ICCID != iccid || got.DataVolume != 1<<20 || got.SMSCount != 3 || got.VoiceSeconds != 60 || got.State != sdk.StateShipped {
		t.Fatalf("usage %+v", got)
	}
	st, err := w.client.SIMStateGet(context.Background(), iccid)
	if err != nil || st.State != sdk.StateShipped || st.Tariff != "M2M_BASIC" {
		t.Fatalf("state %+v %v", st, err)
	}
}

// TestScenarioB_SIMActivation is chapter 7 scenario (b): SIMActivation ->
// MessageResponse at once -> the SIM is activated in the background ->
// authgate calls the partner's M2MAdmCl with a signed M2MAdmResponse and
// verifies the partner's signed M2MAdmResponseMessage. The network-state
// change goes to M2MMonCl the same way.
func TestScenarioB_SIMActivation(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = w.env.RunWorker(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	mr, err := w.client.Adm(ctx, sdk.OpSIMActivation, iccid, "")
	if err != nil {
		t.Fatal(err)
	}
	if mr.Status != "ACCEPTED" || mr.RequestID == "" || mr.Operation != sdk.OpSIMActivation {
		t.Fatalf("MessageResponse %+v", mr)
	}
	w.partner.waitFor(t, 2)
	w.partner.mu.Lock()
	adm, mon := w.partner.adm, w.partner.mon
	w.partner.mu.Unlock()
	if len(adm) != 1 || adm[0].RequestID != mr.RequestID || adm[0].Result != "OK" || adm[0].State != sdk.StateActive {
		t.Fatalf("M2MAdmResponse %+v", adm)
	}
	if len(mon) != 1 || mon[0].NetworkState != sdk.NetworkRegistered || mon[0].PreviousNetworkState != sdk.NetworkNone {
		t.Fatalf("SIMNetworkStateChange %+v", mon)
	}
	st, err := w.client.SIMStateGet(ctx, iccid)
	if err != nil || st.State != sdk.StateActive || st.NetworkState != sdk.NetworkRegistered {
		t.Fatalf("state after activation %+v %v", st, err)
	}
	// Activating again is refused at once with a clear code.
	_, err = w.client.Adm(ctx, sdk.OpSIMActivation, iccid, "")
	var f *sdk.Fault
	if !errors.As(err, &f) || f.Detail != sdk.ErrInvalidSIMState {
		t.Fatalf("second activation: %v", err)
	}
	// Suspend, tariff change and resume run the same way.
	for _, op := range []struct{ op, tariff, state string }{
		{sdk.OpSIMSuspend, "", sdk.StateSuspended},
		{sdk.OpSIMTariffChange, "M2M_PLUS", sdk.StateSuspended},
		{sdk.OpSIMResume, "", sdk.StateActive},
		{sdk.OpSIMDeactivation, "", sdk.StateDeactivated},
	} {
		if _, err := w.client.Adm(ctx, op.op, iccid, op.tariff); err != nil {
			t.Fatalf("%s: %v", op.op, err)
		}
		n := 2
		if op.op == sdk.OpSIMTariffChange {
			n = 1
		}
		w.partner.waitFor(t, n)
		w.partner.mu.Lock()
		last := w.partner.adm[len(w.partner.adm)-1]
		w.partner.mu.Unlock()
		if last.Operation != op.op || last.State != op.state || last.Result != "OK" {
			t.Fatalf("%s: %+v", op.op, last)
		}
	}
	st, _ = w.client.SIMStateGet(ctx, iccid)
	if st.Tariff != "M2M_PLUS" || st.State != sdk.StateDeactivated {
		t.Fatalf("final state %+v", st)
	}
}

// TestCallbackResentOnce: when the partner answers with an error, the
// M2MAdmResponse is re-sent once (after retry_delay); a partner that keeps
// failing gets no third attempt.
func TestCallbackResentOnce(t *testing.T) {
	clock := core.NewManualClock(time.Now())
	w := newWorld(t, worldOptions{clock: clock, cfg: func(c *m2m.Config) { c.RetryDelay = time.Minute }})
	ctx := context.Background()
	w.partner.fail = 1
	mr, err := w.client.Adm(ctx, sdk.OpSIMActivation, iccid, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.ProcessDue(ctx); err != nil { // activation, failed M2MAdmResponse, network notification
		t.Fatal(err)
	}
	w.partner.waitFor(t, 2)
	if len(w.partner.adm) != 0 {
		t.Fatal("failed callback counted as received")
	}
	clock.Advance(30 * time.Second)
	if n, _ := w.env.ProcessDue(ctx); n != 0 {
		t.Fatalf("re-sent before retry_delay (%d jobs)", n)
	}
	clock.Advance(31 * time.Second)
	if n, _ := w.env.ProcessDue(ctx); n != 1 {
		t.Fatalf("re-send ran %d jobs", n)
	}
	w.partner.waitFor(t, 1)
	if len(w.partner.adm) != 1 || w.partner.adm[0].RequestID != mr.RequestID {
		t.Fatalf("re-sent M2MAdmResponse %+v", w.partner.adm)
	}

	// A partner that fails both times: sent, re-sent once, then given up.
	w.partner.fail = 5
	if _, err := w.client.Adm(ctx, sdk.OpSIMSuspend, iccid, ""); err != nil {
		t.Fatal(err)
	}
	w.env.ProcessDue(ctx)
	w.partner.waitFor(t, 2)
	for i := 0; i < 3; i++ {
		clock.Advance(2 * time.Minute)
		w.env.ProcessDue(ctx)
	}
	w.partner.waitFor(t, 1)
	select {
	case <-w.partner.got:
		t.Fatal("a third attempt was made")
	case <-time.After(200 * time.Millisecond):
	}
	if w.partner.fail != 3 {
		t.Fatalf("partner saw %d failing attempts, want 2", 5-w.partner.fail)
	}
}

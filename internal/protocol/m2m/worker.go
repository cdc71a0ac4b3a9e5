package m2m

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/sdk/m2m"
)

// Job kinds of an environment's outbox queue.
const (
	jobAdm    = "adm"   // execute an M2MAdm request
	jobAdmCl  = "admcl" // send its M2MAdmResponse to M2MAdmCl
	jobMonCl  = "moncl" // send a SIMNetworkStateChange to M2MMonCl
	maxSends  = 2       // a notification is sent once and re-sent once
	jobLease  = 2 * time.Minute
	claimSize = 16
)

type jobPayload struct {
	Kind      string                     `json:"kind"`
	RequestID string                     `json:"request_id,omitempty"`
	Partner   string                     `json:"partner,omitempty"`
	Event     *m2m.SIMNetworkStateChange `json:"event,omitempty"`
}

func (e *Env) queue() string { return queueOf(e.Name) }

// RunWorker processes the environment's outbox until ctx ends.
func (e *Env) RunWorker(ctx context.Context) error {
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		if _, err := e.ProcessDue(ctx); err != nil && ctx.Err() == nil {
			e.d.Log.Warn("m2m outbox", slog.String("env", e.Name), slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ProcessDue claims and runs the due jobs once and reports how many ran.
func (e *Env) ProcessDue(ctx context.Context) (int, error) {
	n := 0
	for {
		js, err := e.d.Jobs.ClaimJobs(ctx, e.queue(), e.d.Clock.Now(), jobLease, claimSize)
		if err != nil {
			return n, err
		}
		if len(js) == 0 {
			return n, nil
		}
		for _, j := range js {
			e.run(ctx, j)
			n++
		}
	}
}

func (e *Env) run(ctx context.Context, j core.Job) {
	var p jobPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		_ = e.d.Jobs.FailJob(ctx, j.ID, e.d.Clock.Now(), "bad payload")
		return
	}
	var err error
	switch p.Kind {
	case jobAdm:
		err = e.execute(ctx, p.RequestID)
	case jobAdmCl, jobMonCl:
		err = e.notify(ctx, p)
	default:
		err = fmt.Errorf("unknown job kind %q", p.Kind)
	}
	now := e.d.Clock.Now()
	switch {
	case err == nil:
		err = e.d.Jobs.CompleteJob(ctx, j.ID, now)
	case p.Kind != jobAdm && j.Attempts < maxSends:
		e.d.Log.Info("m2m notification failed, re-sending once", slog.String("env", e.Name), slog.String("job", j.ID), slog.Any("err", err))
		err = e.d.Jobs.RetryJob(ctx, j.ID, now.Add(e.cfg.RetryDelay), err.Error())
	case p.Kind == jobAdm && core.KindOf(err) == core.KindUnavailable:
		err = e.d.Jobs.RetryJob(ctx, j.ID, now.Add(e.cfg.RetryDelay), err.Error())
	default:
		e.d.Log.Warn("m2m job failed", slog.String("env", e.Name), slog.String("job", j.ID), slog.Any("err", err))
		err = e.d.Jobs.FailJob(ctx, j.ID, now, err.Error())
	}
	if err != nil {
		e.d.Log.Warn("m2m outbox update", slog.String("job", j.ID), slog.Any("err", err))
	}
}

// execute carries out an accepted M2MAdm request: the SIM changes state in
// the background, then the partner is told. It is idempotent, so a job
// re-run after a crash only re-queues the notifications (whose ids are
// derived from the request, so they are queued once).
func (e *Env) execute(ctx context.Context, requestID string) error {
	doc, err := e.d.Docs.GetDocument(ctx, CollectionRequests, requestID)
	if err != nil {
		return err
	}
	var rq admRequest
	if err := json.Unmarshal(doc.Data, &rq); err != nil {
		return err
	}
	var event *m2m.SIMNetworkStateChange
	if rq.Status == "PENDING" {
		now := e.d.Clock.Now().UTC()
		var state string
		err := updateSIM(ctx, e.d, e.Name, rq.ICCID, func(s *SIM) error {
			next, network, ok := transition(rq.Operation, s.State)
			if !ok {
				return m2mErr(m2m.ErrInvalidSIMState, core.KindConflict, rq.Operation+" is not possible in state "+s.State)
			}
			if network != "" && network != s.NetworkState {
				event = &m2m.SIMNetworkStateChange{EventID: core.NewID(), ICCID: s.ICCID, NetworkState: network, PreviousNetworkState: s.NetworkState, ChangedAt: now}
				s.NetworkState = network
			}
			s.State = next
			if rq.Tariff != "" {
				s.Tariff = rq.Tariff
			}
			s.LastChange = now
			state = s.State
			return nil
		})
		rq.CompletedAt = now
		switch {
		case err == nil:
			rq.Status, rq.State = "OK", state
		case core.KindOf(err) == core.KindUnavailable || core.KindOf(err) == core.KindInternal:
			return err
		default:
			_, reason, detail, _ := faultOf(err)
			rq.Status, rq.ResultCode, rq.ResultText = "ERROR", detail, reason
		}
		doc.Data, _ = json.Marshal(rq)
		doc.UpdatedAt = now
		if _, err := e.d.Docs.UpdateDocument(ctx, doc); err != nil {
			return err
		}
		_ = e.d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditUpdate, Protocol: protocol, OrgID: doc.OrgID,
			Subject: rq.ICCID, Reason: e.Name + ": " + rq.Operation + " " + rq.Status + " (" + rq.ID + ")"})
	}
	if err := e.enqueueOnce(ctx, "admcl-"+rq.ID, jobPayload{Kind: jobAdmCl, RequestID: rq.ID, Partner: rq.Partner}); err != nil {
		return err
	}
	if event != nil {
		return e.enqueueOnce(ctx, "moncl-"+event.EventID, jobPayload{Kind: jobMonCl, Partner: rq.Partner, Event: event})
	}
	return nil
}

func (e *Env) enqueueOnce(ctx context.Context, id string, p jobPayload) error {
	b, _ := json.Marshal(p)
	now := e.d.Clock.Now()
	err := e.d.Jobs.EnqueueJob(ctx, core.Job{ID: id, Queue: e.queue(), Payload: b, RunAt: now, CreatedAt: now})
	if core.KindOf(err) == core.KindConflict {
		return nil
	}
	return err
}

// NotifyNetworkState queues a SIMNetworkStateChange for the SIM's partner
// (the network side of the platform calls this when a SIM attaches or
// detaches) and records the new state.
func (e *Env) NotifyNetworkState(ctx context.Context, iccid, state string) error {
	var event *m2m.SIMNetworkStateChange
	var partnerName string
	now := e.d.Clock.Now().UTC()
	err := updateSIM(ctx, e.d, e.Name, iccid, func(s *SIM) error {
		partnerName = s.Partner
		if s.NetworkState != state {
			event = &m2m.SIMNetworkStateChange{EventID: core.NewID(), ICCID: iccid, NetworkState: state, PreviousNetworkState: s.NetworkState, ChangedAt: now}
			s.NetworkState, s.LastChange = state, now
		}
		return nil
	})
	if err != nil || event == nil {
		return err
	}
	return e.enqueueOnce(ctx, "moncl-"+event.EventID, jobPayload{Kind: jobMonCl, Partner: partnerName, Event: event})
}

// notify sends one signed notification and checks the partner's signed
// acknowledgment; any failure (no answer, a fault, a bad signature, a
// non-zero state code) is returned so the job is re-sent once.
func (e *Env) notify(ctx context.Context, p jobPayload) error {
	pt := e.byName[p.Partner]
	if pt == nil {
		return fmt.Errorf("partner %q is not configured in %s", p.Partner, e.Name)
	}
	var msg any
	var url, action string
	if p.Kind == jobAdmCl {
		doc, err := e.d.Docs.GetDocument(ctx, CollectionRequests, p.RequestID)
		if err != nil {
			return err
		}
		var rq admRequest
		if err := json.Unmarshal(doc.Data, &rq); err != nil {
			return err
		}
		result := "OK"
		if rq.Status != "OK" {
			result = "ERROR"
		}
		msg = m2m.M2MAdmResponse{RequestID: rq.ID, Operation: rq.Operation, ICCID: rq.ICCID, Result: result,
			ResultCode: rq.ResultCode, ResultText: rq.ResultText, State: rq.State, Tariff: rq.Tariff, CompletedAt: rq.CompletedAt}
		url, action = pt.AdmClURL, m2m.OpM2MAdmResponse
	} else {
		if p.Event == nil {
			return errors.New("notification without event")
		}
		msg, url, action = *p.Event, pt.MonClURL, m2m.OpSIMNetworkState
	}
	if url == "" {
		return nil // the partner registered no endpoint for this kind of event
	}
	body, err := xml.Marshal(msg)
	if err != nil {
		return err
	}
	signed, err := e.signer.Sign(body)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(signed))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+m2m.Namespace+"/"+action+`"`)
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("partner did not answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(e.cfg.MaxMessageBytes)+1))
	if err != nil {
		return fmt.Errorf("partner answer: %w", err)
	}
	v, err := pt.verifier.VerifyContext(ctx, raw)
	if err != nil {
		_ = e.d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditAuthFailure, Protocol: protocol, Outcome: core.OutcomeFailure,
			OrgID: pt.OrgID, PrincipalID: pt.PrincipalID, Subject: p.Partner, Reason: e.Name + ": acknowledgment: " + err.Error()})
		if f := m2m.ParseFault(raw); f != nil {
			return fmt.Errorf("partner answered with an unsigned fault: %w", f)
		}
		return fmt.Errorf("partner answer rejected: %w", err)
	}
	if !pt.certificateBelongs(v.Certificate, v.Issuer, v.Pinned) {
		return errors.New("partner answer signed with a certificate not registered for it")
	}
	if err := e.d.Replay.Remember(ctx, "m2m."+e.Name+".ack", base64.RawStdEncoding.EncodeToString(v.SignatureValue), v.Expires.Add(e.cfg.ClockSkew)); err != nil {
		return err
	}
	if f := m2m.ParseFault(v.BodyC14N); f != nil {
		return fmt.Errorf("partner answered with a fault: %w", f)
	}
	var ack struct {
		XMLName          xml.Name
		StateCode        *int   `xml:"StateCode"`
		NotificationText string `xml:"NotificationText"`
	}
	if err := m2m.DecodePayload(v.BodyC14N, &ack); err != nil || ack.StateCode == nil || ack.XMLName.Space != m2m.Namespace {
		return errors.New("partner answer is not an acknowledgment")
	}
	want := "M2MAdmResponseMessage"
	if p.Kind == jobMonCl {
		want = "M2MMonResponseMessage"
	}
	if ack.XMLName.Local != want {
		return fmt.Errorf("partner answered %s, want %s", ack.XMLName.Local, want)
	}
	if *ack.StateCode != 0 {
		return fmt.Errorf("partner answered state code %d: %s", *ack.StateCode, ack.NotificationText)
	}
	return nil
}

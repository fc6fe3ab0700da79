package main

import "github.com/broker-dev/broker/broker/agent/wire"

const intermediateVar = "BROKER_AGENT_INTERMEDIATE"

// startAgent: there is no agent on Windows.
func startAgent(string) (*wire.AgentStatus, error) { return nil, agentUnsupported() }

// endAgent: there is no agent on Windows.
func endAgent(int) error { return agentUnsupported() }

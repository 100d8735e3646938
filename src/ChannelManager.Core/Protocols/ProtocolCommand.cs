namespace ChannelManager.Core.Protocols;

/// <summary>One request of a transaction. Each protocol derives its own commands (e.g. Modbus.ReadHoldingRegisters).</summary>
public abstract record ProtocolCommand;

namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Modbus exception codes as sent on the wire (Application Protocol V1.1b3 §7; 07 from the Modicon PI-MBUS-300 guide).</summary>
public enum ModbusExceptionCode : byte
{
    /// <summary>01: the function code is not supported by the server.</summary>
    IllegalFunction = 0x01,

    /// <summary>02: the data address (or address + quantity) is not allowed.</summary>
    IllegalDataAddress = 0x02,

    /// <summary>03: a value in the request is not allowed (e.g. quantity out of range).</summary>
    IllegalDataValue = 0x03,

    /// <summary>04: an unrecoverable error occurred in the server.</summary>
    ServerDeviceFailure = 0x04,

    /// <summary>05: accepted, but it will take long; the client should poll later.</summary>
    Acknowledge = 0x05,

    /// <summary>06: the server is busy with a long command; retry later (our "server busy", seed 000's 503).</summary>
    ServerDeviceBusy = 0x06,

    /// <summary>07: the program function could not be performed (PI-MBUS-300; not in V1.1b3).</summary>
    NegativeAcknowledge = 0x07,

    /// <summary>08: the server found a parity error in its extended memory.</summary>
    MemoryParityError = 0x08,

    /// <summary>0A: a gateway could not allocate a path to the target.</summary>
    GatewayPathUnavailable = 0x0A,

    /// <summary>0B: a gateway's target device did not respond.</summary>
    GatewayTargetDeviceFailedToRespond = 0x0B,
}

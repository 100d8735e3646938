namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>Modbus public function codes used by the RTU master (Modbus Application Protocol V1.1b3 §6).</summary>
public enum ModbusFunction : byte
{
    /// <summary>FC01, §6.1.</summary>
    ReadCoils = 0x01,

    /// <summary>FC02, §6.2.</summary>
    ReadDiscreteInputs = 0x02,

    /// <summary>FC03, §6.3.</summary>
    ReadHoldingRegisters = 0x03,

    /// <summary>FC04, §6.4.</summary>
    ReadInputRegisters = 0x04,

    /// <summary>FC05, §6.5: value 0xFF00 = ON, 0x0000 = OFF.</summary>
    WriteSingleCoil = 0x05,

    /// <summary>FC06, §6.6.</summary>
    WriteSingleRegister = 0x06,

    /// <summary>FC15 (0x0F), §6.11.</summary>
    WriteMultipleCoils = 0x0F,

    /// <summary>FC16 (0x10), §6.12.</summary>
    WriteMultipleRegisters = 0x10,

    /// <summary>FC23 (0x17), §6.17: the write is performed before the read.</summary>
    ReadWriteMultipleRegisters = 0x17,
}

/// <summary>Wire facts about function codes shared by the master and the outstation simulator.</summary>
public static class ModbusFunctionInfo
{
    /// <summary>An exception response sets the high bit of the function code (Application Protocol §7).</summary>
    public const byte ExceptionFlag = 0x80;

    public static bool IsSupported(byte function) => function is 0x01 or 0x02 or 0x03 or 0x04 or 0x05 or 0x06 or 0x0F or 0x10 or 0x17;

    /// <summary>True for the functions whose response is "byte count + data" (the rest echo address and quantity/value).</summary>
    public static bool IsRead(ModbusFunction function) => function is ModbusFunction.ReadCoils or ModbusFunction.ReadDiscreteInputs
        or ModbusFunction.ReadHoldingRegisters or ModbusFunction.ReadInputRegisters or ModbusFunction.ReadWriteMultipleRegisters;
}
